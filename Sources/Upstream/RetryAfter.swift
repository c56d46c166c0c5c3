import Foundation

/// Reads an HTTP `Retry-After` value: delta-seconds (`7`) or an HTTP date.
enum RetryAfter {
    /// The longest wait honoured; a larger value is clamped (a day is already "not soon").
    static let maximumSeconds = 86_400

    /// The wait in whole seconds (rounded up, at least 0), or nil when `value` is neither form.
    static func seconds(from value: String, now: Date = Date()) -> Int? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return min(Int(trimmed) ?? maximumSeconds, maximumSeconds)  // nil: too many digits for an Int
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        let delta = date.timeIntervalSince(now).rounded(.up)
        return Int(min(max(delta, 0), Double(maximumSeconds)))
    }
}
