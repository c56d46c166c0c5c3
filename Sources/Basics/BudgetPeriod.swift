import Glibc

/// How often a spending budget starts again: a number of hours, days or calendar months (`1h`, `1d`,
/// `7d`, `30d`, `1mo`), counted from an anchor (the key's creation time), so every host computes the same
/// periods from the same keys file.
///
/// Hours and days are fixed lengths (a day is 86 400 s; UTC has no daylight saving). Months are
/// calendar months in UTC from the anchor's day and time: a key created on 31 January resets on
/// 28 (or 29) February, then on 31 March — each period starts on the anchor's day of the month, or on
/// the month's last day when it is shorter.
public struct BudgetPeriod: Sendable, Equatable, CustomStringConvertible {
    /// The unit of a period.
    public enum Unit: String, Sendable, Equatable {
        case hours = "h"
        case days = "d"
        case months = "mo"
    }

    /// How many units one period lasts (1 to 1000).
    public let count: Int
    public let unit: Unit

    /// Most units in one period: 1000 days is close to three years.
    public static let maxCount = 1000

    public init?(count: Int, unit: Unit) {
        guard (1...Self.maxCount).contains(count) else { return nil }
        self.count = count
        self.unit = unit
    }

    /// Parses `1h`, `24h`, `1d`, `7d`, `30d`, `1mo`, `3mo`; nil for anything else.
    public init?(_ text: String) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 4, let count = Int(digits),
              let unit = Unit(rawValue: String(text.dropFirst(digits.count))) else { return nil }
        self.init(count: count, unit: unit)
    }

    /// How the keys file and the command line write it: `30d`.
    public var description: String { "\(count)\(unit.rawValue)" }

    /// The start and end (exclusive) of the period that holds `now`, in seconds since 1970.
    /// - Parameters:
    ///   - anchor: When the first period starts (a key's creation time); a `now` before it is in the
    ///     first period.
    ///   - now: The instant.
    /// - Returns: `start ≤ now < end` (or the first period when `now < anchor`).
    public func bounds(anchor: Int64, now: Int64) -> (start: Int64, end: Int64) {
        switch unit {
        case .hours, .days:
            let length = Int64(count) * (unit == .hours ? 3_600 : 86_400)
            let index = now <= anchor ? 0 : (now - anchor) / length
            let start = anchor + index * length
            return (start, start + length)
        case .months:
            // An estimate of whole months elapsed, corrected by at most a step either way.
            var index = now <= anchor ? 0 : Int((now - anchor) / 2_629_746) / count
            while index > 0 && Self.addMonths(index * count, to: anchor) > now { index -= 1 }
            while Self.addMonths((index + 1) * count, to: anchor) <= now { index += 1 }
            return (Self.addMonths(index * count, to: anchor), Self.addMonths((index + 1) * count, to: anchor))
        }
    }

    /// `months` calendar months after `time` (UTC), the day clamped to the target month's length.
    static func addMonths(_ months: Int, to time: Int64) -> Int64 {
        var seconds = time_t(time)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let total = Int(parts.tm_year) * 12 + Int(parts.tm_mon) + months
        let year = total / 12, month = total % 12
        parts.tm_year = Int32(year)
        parts.tm_mon = Int32(month)
        parts.tm_mday = min(parts.tm_mday, Int32(daysInMonth(year: year + 1900, month: month)))
        return Int64(timegm(&parts))
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 3, 5, 8, 10: 30
        default: 31
        }
    }
}
