import Glibc
import Settings

/// A webhook secret being replaced: the previous secret, still accepted until a stated time.
///
/// The end is an absolute time, not a duration from start, so that restarting frontd (or a crash loop)
/// never extends the window in which the old secret works: an operator reads the end in the
/// environment file and knows it holds whatever happens to the process.
struct SecretRotation: Sendable {
    /// The secret being retired (`WEBHOOK_HMAC_SECRET_PREVIOUS`).
    let previousSecret: [UInt8]
    /// Seconds since the epoch (`WEBHOOK_HMAC_PREVIOUS_UNTIL`): the previous secret is accepted while
    /// frontd's clock is before it.
    let until: Int

    /// What `WEBHOOK_HMAC_PREVIOUS_UNTIL` takes, for its errors and help.
    static let expectedTime = "a UTC time written 2026-12-31T23:59:59Z, or whole seconds since the Unix epoch"

    /// Parses a UTC time written `YYYY-MM-DDTHH:MM:SSZ`, or whole seconds since the epoch (1 to 12 digits).
    /// - Returns: Seconds since the epoch, or nil for anything else (a local time, a date that does not exist).
    static func parseTime(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        if (1...12).contains(bytes.count), bytes.allSatisfy(isDigit) { return Int(text) }
        // 2026-12-31T23:59:59Z: digits at fixed places, these separators between them.
        let separators: [Int: UInt8] = [4: UInt8(ascii: "-"), 7: UInt8(ascii: "-"), 10: UInt8(ascii: "T"), 13: UInt8(ascii: ":"),
                                        16: UInt8(ascii: ":"), 19: UInt8(ascii: "Z")]
        guard bytes.count == 20 else { return nil }
        for (i, b) in bytes.enumerated() {
            if let separator = separators[i] {
                guard b == separator || (i == 10 && b == UInt8(ascii: "t")) || (i == 19 && b == UInt8(ascii: "z")) else { return nil }
            } else if !isDigit(b) {
                return nil
            }
        }
        func number(_ from: Int, _ count: Int) -> Int32 {
            bytes[from..<(from + count)].reduce(0) { $0 * 10 + Int32($1 - 48) }
        }
        var parts = tm()
        parts.tm_year = number(0, 4) - 1900
        parts.tm_mon = number(5, 2) - 1
        parts.tm_mday = number(8, 2)
        parts.tm_hour = number(11, 2)
        parts.tm_min = number(14, 2)
        parts.tm_sec = number(17, 2)
        let asked = (parts.tm_year, parts.tm_mon, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
        let seconds = timegm(&parts)
        // timegm normalises 2026-02-30 into March: such a date is refused, not moved.
        guard seconds >= 0, asked == (parts.tm_year, parts.tm_mon, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec) else {
            return nil
        }
        return Int(seconds)
    }

    /// The rotation the settings describe, or nil when `WEBHOOK_HMAC_SECRET_PREVIOUS` is unset.
    /// - Throws: `ConfigError` (exit 78) when the previous secret is set without an end, or without a
    ///   current secret to rotate to.
    static func configured(_ settings: Settings) throws(ConfigError) -> SecretRotation? {
        guard let previous = settings[FrontSettings.webhookPreviousSecret] else { return nil }
        guard settings[FrontSettings.webhookSecret] != nil else {
            throw ConfigError("\(FrontSettings.webhookPreviousSecret.name) is set but \(FrontSettings.webhookSecret.name) is not: "
                + "a rotation needs the new secret", variable: FrontSettings.webhookSecret.name)
        }
        guard let until = settings[FrontSettings.webhookPreviousUntil] else {
            throw ConfigError("\(FrontSettings.webhookPreviousSecret.name) is set without \(FrontSettings.webhookPreviousUntil.name): "
                + "say until when the previous secret is accepted (\(expectedTime))", variable: FrontSettings.webhookPreviousUntil.name)
        }
        return SecretRotation(previousSecret: Array(previous.utf8), until: until)
    }
}
