import ScalperCore

/// Short aliases for UTC formatting inside MarketData messages.
enum UTCText {
    static func minute(_ ms: Int64) -> String { UTC.minuteString(ms) }
}
