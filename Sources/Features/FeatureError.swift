/// A bar the feature engine refuses, with the field and value that made it so.
public struct FeatureError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What is wrong.
    public enum Reason: Sendable, Equatable {
        case invalidValue(field: String, value: Double)
        case timeNotIncreasing(previous: Int64, current: Int64)
    }

    /// Open time of the offending bar (ms).
    public var openTime: Int64
    /// What is wrong.
    public var reason: Reason

    /// Creates an error.
    public init(openTime: Int64, reason: Reason) {
        self.openTime = openTime
        self.reason = reason
    }

    /// A sentence naming the bar and the field.
    public var description: String {
        switch reason {
        case .invalidValue(let field, let value):
            "bar at open_time \(openTime): \(field) = \(value) is not a valid input (must be finite and positive; volume ≥ 0)"
        case .timeNotIncreasing(let previous, let current):
            "bar at open_time \(current) does not come after the previous bar (\(previous))"
        }
    }
}
