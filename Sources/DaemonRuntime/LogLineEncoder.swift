import Basics
import Glibc

/// Encodes log lines byte by byte, without Foundation's encoders: a line is built in one buffer and
/// written with one write(2), and building it costs no more than the bytes it holds.
enum LogLineEncoder {
    /// Appends a field value as JSON. Non-finite numbers, which JSON cannot hold, are written as strings
    /// ("nan", "inf", "-inf").
    static func appendJSONValue(_ value: LogValue, to out: inout [UInt8]) {
        switch value {
        case .string(let text): JSONString.append(text, to: &out)
        case .int(let number): out.append(contentsOf: Array(String(number).utf8))
        case .double(let number):
            if number.isFinite {
                out.append(contentsOf: Array(String(number).utf8))
            } else {
                JSONString.append(number.isNaN ? "nan" : (number > 0 ? "inf" : "-inf"), to: &out)
            }
        case .bool(let flag): out.append(contentsOf: Array((flag ? "true" : "false").utf8))
        case .null: out.append(contentsOf: Array("null".utf8))
        }
    }

    /// Appends a value for the plain (non-JSON) format: bare when it is one simple word, otherwise as a
    /// JSON string literal, so a line never breaks and `key=value` pairs stay unambiguous.
    static func appendPlainValue(_ value: LogValue, to out: inout [UInt8]) {
        if case .string(let text) = value {
            let simple = !text.isEmpty && text.utf8.allSatisfy { byte in
                byte > 0x20 && byte != 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
                    && byte != UInt8(ascii: "=")
            }
            if simple {
                out.append(contentsOf: Array(text.utf8))
            } else {
                JSONString.append(text, to: &out)
            }
        } else {
            appendJSONValue(value, to: &out)
        }
    }

    /// Appends the current UTC time as RFC 3339 with milliseconds: `2026-11-23T09:00:00.123Z`.
    static func appendTimestamp(to out: inout [UInt8]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
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
        out.append(UInt8(ascii: "."))
        appendDigits(Int(now.tv_nsec) / 1_000_000, width: 3, to: &out)
        out.append(UInt8(ascii: "Z"))
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
