internal import CXGBoost

/// Facts about the XGBoost library this process is linked against.
public enum XGBoostLibrary {
    /// The library's version as `major.minor.patch` (`XGBoostVersion`), recorded in model metadata.
    public static var version: String {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        XGBoostVersion(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// The library's build information as JSON (`XGBuildInfo`): compiler, OpenMP, CUDA flags.
    public static func buildInfo() throws(XGBoostError) -> String {
        var out: UnsafePointer<CChar>?
        try xgbCall("XGBuildInfo") { XGBuildInfo(&out) }
        // The string is owned by XGBoost (a thread-local buffer): copy it now.
        return out.map { String(cString: $0) } ?? "{}"
    }
}
