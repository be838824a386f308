import ArgumentParser
import LinearAlgebra
import XGBoost

/// `scalper info`: versions of the native libraries the binary runs on.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the versions of XGBoost and OpenBLAS this build runs on."
    )

    func run() throws {
        print("scalper \(Scalper.configuration.version)")
        print("xgboost \(XGBoostLibrary.version)")
        print("openblas threads \(Vector.blasThreadCount)")
    }
}
