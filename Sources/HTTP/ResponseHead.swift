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
        for byte in status.reason.utf8 where !ASCII.isFieldValueByte(byte) {
            throw HTTPResponseError(.invalidStatus, "reason phrase holds control byte \(byte)")
        }
        for field in headers.fields {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(ASCII.isTokenChar) else {
                throw HTTPResponseError(.invalidHeaderName, "header name \(field.name.debugDescription) is not a token")
            }
            guard field.value.utf8.allSatisfy(ASCII.isFieldValueByte) else {
                throw HTTPResponseError(.invalidHeaderValue, "header \(field.name): value holds CR, LF or another control byte")
            }
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
                if HTTPHeaders.nameEquals(token.trimmingWhitespace(), "close") { return true }
            }
        }
        return false
    }

    /// Appends the status line, the headers and the blank line to `out`. The server owns the framing
    /// headers: `Content-Length`, `Transfer-Encoding` and `Connection` from `headers` are not copied.
    static func serialize(
        into out: inout [UInt8],
        status: HTTPStatus,
        headers: HTTPHeaders,
        framing: Framing,
        keepAlive: Bool,
        http10: Bool,
        date: [UInt8]
    ) {
        out.append(static: "HTTP/1.1 ")
        out.appendDecimal(status.code)
        out.append(ASCII.space)
        out.append(string: status.reason)
        out.append(static: "\r\n")
        var hasDate = false
        for field in headers.fields {
            let name = field.name
            switch name.utf8.count {
            case 4 where HTTPHeaders.nameEquals(name, "date"):
                hasDate = true
            case 10 where HTTPHeaders.nameEquals(name, "connection"):
                continue
            case 14 where HTTPHeaders.nameEquals(name, "content-length"):
                continue
            case 17 where HTTPHeaders.nameEquals(name, "transfer-encoding"):
                continue
            default:
                break
            }
            out.append(string: name)
            out.append(static: ": ")
            out.append(string: field.value)
            out.append(static: "\r\n")
        }
        if !hasDate { out.append(contentsOf: date) }
        switch framing {
        case .length(let length):
            out.append(static: "Content-Length: ")
            out.appendDecimal(length)
            out.append(static: "\r\n")
        case .chunked:
            out.append(static: "Transfer-Encoding: chunked\r\n")
        case .closeDelimited, .none:
            break
        }
        if !keepAlive {
            out.append(static: "Connection: close\r\n")
        } else if http10 {
            out.append(static: "Connection: keep-alive\r\n")
        }
        out.append(static: "\r\n")
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
