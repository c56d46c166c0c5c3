import Glibc

/// UTC times as RFC 3339 text (`2026-01-31T00:00:00Z`, `2026-11-23T09:00:00.123Z`), written byte by byte
/// from gmtime_r: the one formatter of wall-clock times for log lines and replies, with no
/// Foundation date formatter (and no ICU) behind it.
public enum RFC3339Time {
    /// Appends `seconds` since 1970 as `YYYY-MM-DDThh:mm:ss[.mmm]Z`; the fraction only when
    /// `milliseconds` is given (0 to 999).
    public static func append(seconds: Int64, milliseconds: Int? = nil, to out: inout [UInt8]) {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        appendDigits(Int(parts.tm_year) + 1900, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(Int(parts.tm_mon) + 1, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(Int(parts.tm_mday), width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendDigits(Int(parts.tm_hour), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_min), width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_sec), width: 2, to: &out)
        if let milliseconds {
            out.append(UInt8(ascii: "."))
            appendDigits(milliseconds, width: 3, to: &out)
        }
        out.append(UInt8(ascii: "Z"))
    }

    /// `seconds` since 1970 as `YYYY-MM-DDThh:mm:ssZ`.
    public static func string(seconds: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(20)
        append(seconds: seconds, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendDigits(_ value: Int, width: Int, to out: inout [UInt8]) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var rest = max(0, value)
        var index = width - 1
        while index >= 0 {
            digits[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        }
        out.append(contentsOf: digits)
    }
}
