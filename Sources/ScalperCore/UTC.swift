import Foundation

/// Conversions between epoch milliseconds and UTC text, the only calendar the project uses.
public enum UTC {
    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        // "UTC" always exists in the time-zone database; GMT is the fallback named by Foundation itself.
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .current
        return calendar
    }()

    /// Milliseconds since the epoch for a UTC calendar date and time.
    public static func milliseconds(
        year: Int,
        month: Int,
        day: Int,
        hour: Int = 0,
        minute: Int = 0,
        second: Int = 0
    ) -> Int64? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second)
        else { return nil }
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let date = calendar.date(from: components) else { return nil }
        let check = calendar.dateComponents([.year, .month, .day], from: date)
        guard check.year == year, check.month == month, check.day == day else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` (also with a space), optionally ending in
    /// `Z` or `+00:00`, as UTC milliseconds. Other offsets are rejected rather than guessed.
    public static func parse(_ text: some StringProtocol) -> Int64? {
        let s = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= s.count else { return nil }
            var value = 0
            for i in range {
                let c = s[i]
                guard c >= 48 && c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            return value
        }
        guard s.count >= 10, s[4] == 45, s[7] == 45, let year = number(0..<4), let month = number(5..<7),
            let day = number(8..<10)
        else { return nil }
        var hour = 0
        var minute = 0
        var second = 0
        var millis = 0
        var i = 10
        if i < s.count && (s[i] == 84 || s[i] == 32) {
            guard let h = number(11..<13), s.count > 13, s[13] == 58, let m = number(14..<16) else { return nil }
            hour = h
            minute = m
            i = 16
            if i < s.count && s[i] == 58 {
                guard let sec = number(17..<19) else { return nil }
                second = sec
                i = 19
                if i < s.count && s[i] == 46 {
                    i += 1
                    var digits = 0
                    while i < s.count, s[i] >= 48, s[i] <= 57 {
                        if digits < 3 { millis = millis * 10 + Int(s[i] - 48) }
                        digits += 1
                        i += 1
                    }
                    guard digits > 0 else { return nil }
                    if digits < 3 { for _ in digits..<3 { millis *= 10 } }
                }
            }
        }
        let rest = String(decoding: s[i...], as: UTF8.self)
        guard ["", "Z", "+00:00", "+0000", "+00"].contains(rest) else { return nil }
        guard let base = milliseconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        return base + Int64(millis)
    }

    /// `YYYY-MM-DD HH:MM` in UTC, for tables and messages.
    public static func minuteString(_ milliseconds: Int64) -> String {
        let c = components(milliseconds)
        return String(format: "%04d-%02d-%02d %02d:%02d", c.year, c.month, c.day, c.hour, c.minute)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (ISO 8601, UTC), for JSON and CSV.
    public static func isoString(_ milliseconds: Int64) -> String {
        let c = components(milliseconds)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour, c.minute, c.second)
    }

    /// `YYYY-MM-DD HH:MM:SS.mmm` in UTC (log lines).
    public static func logStamp(_ milliseconds: Int64) -> String {
        let c = components(milliseconds)
        let ms = Int(((milliseconds % 1000) + 1000) % 1000)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%03d", c.year, c.month, c.day, c.hour, c.minute, c.second, ms)
    }

    /// `YYYY-MM-DD` in UTC.
    public static func dayString(_ milliseconds: Int64) -> String {
        let c = components(milliseconds)
        return String(format: "%04d-%02d-%02d", c.year, c.month, c.day)
    }

    /// The calendar fields of an instant, in UTC.
    public static func components(
        _ milliseconds: Int64
    ) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return (c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    /// The first millisecond of the month that contains `milliseconds`.
    public static func startOfMonth(_ milliseconds: Int64) -> Int64 {
        let c = components(milliseconds)
        return UTC.milliseconds(year: c.year, month: c.month, day: 1) ?? milliseconds
    }

    /// The first millisecond of the next month after the one containing `milliseconds`.
    public static func startOfNextMonth(_ milliseconds: Int64) -> Int64 {
        let c = components(milliseconds)
        let (y, m) = c.month == 12 ? (c.year + 1, 1) : (c.year, c.month + 1)
        return UTC.milliseconds(year: y, month: m, day: 1) ?? milliseconds
    }

    /// Milliseconds now, from the wall clock.
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
