/// Turns the bytes of one HTTP/1.1 response into its head, its body pieces and its end, as they arrive
/// (RFC 9112): a status line and headers, then a body framed by `Transfer-Encoding: chunked`, by
/// `Content-Length`, or by the connection's close; interim 1xx answers are skipped, and 204 and 304 have
/// no body. Bytes may come in any split. One parser per response.
struct HTTP1ResponseParser: Sendable {
    /// What a piece of input completed.
    enum Event: Sendable, Equatable {
        /// The status line and headers (names lower-cased; a repeated header's values joined with `, `).
        case head(status: Int, headers: [String: String])
        /// Body bytes (chunked framing removed).
        case body([UInt8])
        /// The response is complete; `reusable` when the connection may carry another request.
        case end(reusable: Bool)
    }

    /// Why the bytes are not an HTTP/1.1 response.
    struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        let description: String
    }

    /// The most bytes a response head (status line and headers) may hold.
    static let maximumHeadBytes = 64 * 1024
    /// The most header lines a response head may hold.
    static let maximumHeaderCount = 128
    /// The most bytes a chunk-size line (with extensions) or a trailer line may hold.
    static let maximumChunkLineBytes = 4096

    private enum Stage: Sendable, Equatable {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    private var stage = Stage.head
    private var line: [UInt8] = []
    private var headBytes = 0
    private var status = 0
    private var headers: [String: String] = [:]
    private var headerCount = 0
    private var sawStatusLine = false
    private var keepAlive = true

    /// Whether the response is complete.
    var isComplete: Bool { stage == .done }
    /// Whether the status line has begun arriving (the peer answered something).
    private(set) var sawBytes = false

    init() {}

    /// Consumes bytes, appending the events they complete to `events`, in order. Bytes after the end of
    /// the response are an error (a server must not send before it is asked).
    /// - Throws: ``Malformed`` when the bytes are not a valid response.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, into events: inout [Event]) throws(Malformed) {
        guard !bytes.isEmpty else { return }
        sawBytes = true
        var index = 0
        let count = bytes.count
        while index < count {
            switch stage {
            case .head, .chunkSize, .trailers, .chunkDataEnd:
                // Line-oriented stages: take bytes up to an LF.
                var end = index
                while end < count && bytes[end] != 0x0A { end += 1 }
                let taken = end - index + (end < count ? 1 : 0)
                try checkLineLength(adding: taken)
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + taken)]))
                index += taken
                guard line.last == 0x0A else { continue }
                line.removeLast()
                if line.last == 0x0D { line.removeLast() }
                let finished = line
                line.removeAll(keepingCapacity: true)
                try takeLine(finished, into: &events)
            case .fixed(let remaining):
                let taken = min(remaining, count - index)
                events.append(.body(Array(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + taken)]))))
                index += taken
                if taken == remaining {
                    stage = .done
                    events.append(.end(reusable: keepAlive))
                } else {
                    stage = .fixed(remaining: remaining - taken)
                }
            case .chunkData(let remaining):
                let taken = min(remaining, count - index)
                events.append(.body(Array(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + taken)]))))
                index += taken
                stage = taken == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - taken)
            case .untilClose:
                events.append(.body(Array(UnsafeRawBufferPointer(rebasing: bytes[index..<count]))))
                index = count
            case .done:
                throw Malformed(description: "bytes after the end of the response")
            }
        }
    }

    /// The connection closed: completes a body that runs until the close.
    /// - Returns: the end event when the close completes the response, else nil (the response was cut).
    mutating func finishOnClose() -> Event? {
        guard stage == .untilClose else { return nil }
        stage = .done
        return .end(reusable: false)
    }

    private func checkLineLength(adding taken: Int) throws(Malformed) {
        switch stage {
        case .head:
            if headBytes + line.count + taken > Self.maximumHeadBytes {
                throw Malformed(description: "the response head exceeds \(Self.maximumHeadBytes) bytes")
            }
        default:
            if line.count + taken > Self.maximumChunkLineBytes {
                throw Malformed(description: "a chunk line exceeds \(Self.maximumChunkLineBytes) bytes")
            }
        }
    }

    private mutating func takeLine(_ line: [UInt8], into events: inout [Event]) throws(Malformed) {
        switch stage {
        case .head:
            headBytes += line.count + 2
            if !sawStatusLine {
                try parseStatusLine(line)
                sawStatusLine = true
            } else if line.isEmpty {
                try endOfHead(into: &events)
            } else {
                try parseHeader(line)
            }
        case .chunkSize:
            let size = try Self.chunkSize(line)
            stage = size == 0 ? .trailers : .chunkData(remaining: size)
        case .chunkDataEnd:
            guard line.isEmpty else { throw Malformed(description: "a chunk does not end with CRLF") }
            stage = .chunkSize
        case .trailers:
            if line.isEmpty {
                stage = .done
                events.append(.end(reusable: keepAlive))
            }
        default:
            break
        }
    }

    private mutating func parseStatusLine(_ line: [UInt8]) throws(Malformed) {
        // "HTTP/1.1 200 OK": the version, a space, three digits, then a space and a reason or nothing.
        guard line.count >= 12, line.starts(with: Array("HTTP/1.".utf8)), line[8] == 0x20,
            line[9...11].allSatisfy({ (0x30...0x39).contains($0) }), line.count == 12 || line[12] == 0x20
        else {
            throw Malformed(description: "not an HTTP/1.x status line")
        }
        status = line[9...11].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard status >= 100 else { throw Malformed(description: "status \(status) is not a status") }
        // HTTP/1.0 closes after the response unless it says keep-alive.
        keepAlive = line[7] == 0x31
    }

    private mutating func parseHeader(_ line: [UInt8]) throws(Malformed) {
        headerCount += 1
        guard headerCount <= Self.maximumHeaderCount else {
            throw Malformed(description: "more than \(Self.maximumHeaderCount) header lines")
        }
        guard let colon = line.firstIndex(of: 0x3A), colon > 0,
            line[..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            throw Malformed(description: "a header line without a valid name")
        }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        var start = colon + 1
        var end = line.count
        while start < end && (line[start] == 0x20 || line[start] == 0x09) { start += 1 }
        while end > start && (line[end - 1] == 0x20 || line[end - 1] == 0x09) { end -= 1 }
        let value = String(decoding: line[start..<end], as: UTF8.self)
        if let earlier = headers[name] {
            headers[name] = earlier + ", " + value
        } else {
            headers[name] = value
        }
    }

    private mutating func endOfHead(into events: inout [Event]) throws(Malformed) {
        if (100...199).contains(status) {
            // An interim answer (100 Continue, 103 Early Hints): the real one follows.
            guard status != 101 else { throw Malformed(description: "the server switched protocols") }
            resetHead()
            return
        }
        let tokens = Self.tokens(headers["connection"])
        if tokens.contains("close") { keepAlive = false }
        if tokens.contains("keep-alive") { keepAlive = true }
        events.append(.head(status: status, headers: headers))
        if status == 204 || status == 304 {
            stage = .done
            events.append(.end(reusable: keepAlive))
            return
        }
        if let encoding = headers["transfer-encoding"] {
            // chunked must be the last coding; anything else is read until the close (RFC 9112 6.3).
            if Self.tokens(encoding).last == "chunked" {
                stage = .chunkSize
            } else {
                keepAlive = false
                stage = .untilClose
            }
            return
        }
        if let length = headers["content-length"] {
            guard !length.isEmpty, length.utf8.count <= 18, length.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let value = Int(length)
            else {
                throw Malformed(description: "Content-Length \"\(length.prefix(40))\" is not one number")
            }
            if value == 0 {
                stage = .done
                events.append(.end(reusable: keepAlive))
            } else {
                stage = .fixed(remaining: value)
            }
            return
        }
        keepAlive = false
        stage = .untilClose
    }

    private mutating func resetHead() {
        headers = [:]
        headerCount = 0
        sawStatusLine = false
        status = 0
    }

    /// The comma-separated tokens of a header value, lower-cased.
    private static func tokens(_ value: String?) -> [String] {
        guard let value else { return [] }
        return value.lowercased().split(separator: ",").map { token in
            String(token.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
        }
    }

    /// The size of a chunk-size line (hex digits, then extensions after `;`).
    private static func chunkSize(_ line: [UInt8]) throws(Malformed) -> Int {
        var size = 0
        var digits = 0
        for byte in line {
            let value: Int
            switch byte {
            case 0x30...0x39: value = Int(byte - 0x30)
            case 0x41...0x46: value = Int(byte - 0x41 + 10)
            case 0x61...0x66: value = Int(byte - 0x61 + 10)
            case 0x3B, 0x20, 0x09:
                guard digits > 0 else { throw Malformed(description: "a chunk-size line without a size") }
                return size
            default: throw Malformed(description: "a chunk-size line with a byte that is not a hex digit")
            }
            digits += 1
            guard digits <= 15 else { throw Malformed(description: "a chunk size too large") }
            size = size * 16 + value
        }
        guard digits > 0 else { throw Malformed(description: "a chunk-size line without a size") }
        return size
    }
}
