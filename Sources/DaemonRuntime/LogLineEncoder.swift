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
        RFC3339Time.append(seconds: Int64(now.tv_sec), milliseconds: Int(now.tv_nsec) / 1_000_000, to: &out)
    }
}
