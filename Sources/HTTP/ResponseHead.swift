import Basics

/// Validation and serialisation of a response's status line and header section.
enum ResponseHead {
    /// How the body that follows the head is delimited.
    enum Framing {
        case length(Int)
        case chunked
        /// HTTP/1.0 streaming: the body ends when the connection closes.
        case closeDelimited
        /// No body may follow (204, 304).
        case none
    }

    /// Rejects header names that are not tokens and values with control bytes (CR, LF, NUL: injection).
    static func validate(status: HTTPStatus, headers: HTTPHeaders) throws(HTTPResponseError) {
        guard (200...999).contains(status.code) else {
            throw HTTPResponseError(.invalidStatus, "status \(status.code) cannot be sent as a response")
        }
        guard allFieldValueBytes(status.reason) else {
            throw HTTPResponseError(.invalidStatus, "reason phrase holds CR, LF or another control byte")
        }
        for field in headers.fields {
            guard allTokenBytes(field.name) else {
                throw HTTPResponseError(.invalidHeaderName, "header name \(field.name.debugDescription) is not a token")
            }
            guard allFieldValueBytes(field.value) else {
                throw HTTPResponseError(.invalidHeaderValue, "header \(field.name): value holds CR, LF or another control byte")
            }
        }
    }

    private static func allTokenBytes(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            if bytes.isEmpty { return false }
            for byte in bytes where !ASCII.isTokenChar(byte) { return false }
            return true
        }
    }

    private static func allFieldValueBytes(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            for byte in bytes where !ASCII.isFieldValueByte(byte) { return false }
            return true
        }
    }

    /// Whether the status forbids a body (RFC 9110 §6.4.1).
    static func forbidsBody(_ status: HTTPStatus) -> Bool {
        status.code == 204 || status.code == 304 || status.code < 200
    }

    /// Whether the handler's headers ask to close the connection (`Connection: close`).
    static func asksToClose(_ headers: HTTPHeaders) -> Bool {
        for field in headers.fields where HTTPHeaders.nameEquals(field.name, "connection") {
            for token in field.value.split(separator: ",") {
                if HTTPHeaders.nameEquals(token.trimmingOptionalWhitespace(), "close") { return true }
            }
        }
        return false
    }

    /// Writes the status line, the headers and the blank line at the start of `out` (which grows when
    /// too small) and returns their length. The server owns the framing headers: `Content-Length`,
    /// `Transfer-Encoding` and `Connection` from `headers` are not copied.
    ///
    /// The length is computed first and the bytes are then copied with raw stores into a buffer reused
    /// across responses: no allocation and no per-append bookkeeping on the hot path.
    static func serialize(
        into out: inout [UInt8],
        status: HTTPStatus,
        headers: HTTPHeaders,
        framing: Framing,
        keepAlive: Bool,
        http10: Bool,
        date: [UInt8]
    ) -> Int {
        var hasDate = false
        var length = 9 + 3 + 1 + status.reason.utf8.count + 2  // "HTTP/1.1 200 OK\r\n"
        for field in headers.fields {
            switch skip(field.name) {
            case .copy: length += field.name.utf8.count + 2 + field.value.utf8.count + 2
            case .date:
                hasDate = true
                length += field.name.utf8.count + 2 + field.value.utf8.count + 2
            case .skip: break
            }
        }
        if !hasDate { length += date.count }
        switch framing {
        case .length: length += 16 + 20 + 2
        case .chunked: length += 28
        case .closeDelimited, .none: break
        }
        length += 24 + 2  // "Connection: keep-alive\r\n" at most, then the blank line
        if out.count < length { out = [UInt8](repeating: 0, count: max(length, 512)) }

        return out.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            var writer = RawWriter(base)
            writer.write("HTTP/1.1 ")
            writer.writeStatusCode(status.code)
            writer.write(" ")
            writer.write(string: status.reason)
            writer.write("\r\n")
            for field in headers.fields where skip(field.name) != .skip {
                writer.write(string: field.name)
                writer.write(": ")
                writer.write(string: field.value)
                writer.write("\r\n")
            }
            if !hasDate { date.withUnsafeBytes { writer.write(bytes: $0) } }
            switch framing {
            case .length(let count):
                writer.write("Content-Length: ")
                writer.writeDecimal(count)
                writer.write("\r\n")
            case .chunked:
                writer.write("Transfer-Encoding: chunked\r\n")
            case .closeDelimited, .none:
                break
            }
            if !keepAlive {
                writer.write("Connection: close\r\n")
            } else if http10 {
                writer.write("Connection: keep-alive\r\n")
            }
            writer.write("\r\n")
            return writer.count
        }
    }

    private enum HeaderDisposition {
        case copy
        case date
        case skip
    }

    @inline(__always)
    private static func skip(_ name: String) -> HeaderDisposition {
        switch name.utf8.count {
        case 4 where HTTPHeaders.nameEquals(name, "date"): return .date
        case 10 where HTTPHeaders.nameEquals(name, "connection"): return .skip
        case 14 where HTTPHeaders.nameEquals(name, "content-length"): return .skip
        case 17 where HTTPHeaders.nameEquals(name, "transfer-encoding"): return .skip
        default: return .copy
        }
    }
}

/// Raw stores into memory whose size the caller has already checked.
struct RawWriter {
    let base: UnsafeMutableRawPointer
    private(set) var count = 0

    init(_ base: UnsafeMutableRawPointer) { self.base = base }

    @inline(__always)
    mutating func write(_ text: StaticString) {
        (base + count).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    @inline(__always)
    mutating func write(string: String) {
        var text = string
        text.withUTF8 { write(bytes: UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    mutating func write(bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    /// Three digits; codes are validated to 200...999 (100 is written by the connection itself).
    @inline(__always)
    mutating func writeStatusCode(_ code: Int) {
        base.storeBytes(of: UInt8(code / 100 % 10) + 0x30, toByteOffset: count, as: UInt8.self)
        base.storeBytes(of: UInt8(code / 10 % 10) + 0x30, toByteOffset: count + 1, as: UInt8.self)
        base.storeBytes(of: UInt8(code % 10) + 0x30, toByteOffset: count + 2, as: UInt8.self)
        count += 3
    }

    /// At most 20 digits (a non-negative Int).
    mutating func writeDecimal(_ value: Int) {
        var value = max(0, value)
        var digits = 1
        var probe = value
        while probe >= 10 {
            probe /= 10
            digits += 1
        }
        var index = count + digits - 1
        repeat {
            base.storeBytes(of: UInt8(value % 10) + 0x30, toByteOffset: index, as: UInt8.self)
            value /= 10
            index -= 1
        } while value > 0
        count += digits
    }
}
