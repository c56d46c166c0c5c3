import Glibc

/// An incremental HTTP/1.1 request parser: feed it bytes as they arrive (one at a time, or many requests
/// at once) and take complete requests out with ``next()``.
///
/// It works on bytes, keeps at most one header section plus one read's worth of bytes buffered (body bytes
/// move into the request as they arrive), checks every size limit before the allocation it would cause,
/// and reports malformed input as an ``HTTPParseError`` carrying the status to answer. After an error the
/// parser stays failed: the connection must be closed, since the framing of what follows is unknown.
///
/// Line endings are CR LF; a bare LF is accepted everywhere as a line ending (RFC 9112 §2.2) and a bare CR
/// is rejected everywhere, so that head, chunk lines and trailers agree on where a line ends.
public struct HTTPRequestParser: Sendable {
    /// Where the parser stands in the current request.
    public enum Phase: Sendable, Equatable {
        /// No byte of the next request has arrived.
        case idle
        /// Part of a request line or header section has arrived.
        case head
        /// The head is complete; the body is being read.
        case body
    }

    private enum State: Sendable, Equatable {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
    }

    private enum Framing {
        case none
        case length(Int)
        case chunked
    }

    /// A chunk-size line with its (ignored) extensions may not exceed this many bytes.
    static let maxChunkLineBytes = 4096
    /// Bytes reserved up front for a body of announced length; larger bodies grow as they arrive, so a
    /// client announcing 1 MiB and sending nothing costs no more than this.
    static let initialBodyReservation = 64 * 1024
    /// A buffer larger than this is released rather than kept for the next request.
    static let retainedBufferCapacity = 64 * 1024

    /// The size limits this parser enforces (the timeouts in it are the server's business).
    public let limits: HTTPLimits

    private var buffer: [UInt8] = []
    private var start = 0
    private var scanIndex = 0
    private var lineStart = 0
    private var lineCount = 0
    private var trailerBytes = 0
    private var state: State = .head
    private var pending: HTTPRequest?
    private var body: [UInt8] = []
    private var continueExpected = false
    private var failure: HTTPParseError?

    /// Creates a parser enforcing `limits`.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Where the current request stands.
    public var phase: Phase {
        switch state {
        case .head: return buffer.count > start ? .head : .idle
        default: return .body
        }
    }

    /// Bytes received but not yet consumed into a request.
    public var bufferedByteCount: Int { buffer.count - start }

    /// The error the parser failed with, if it did.
    public var error: HTTPParseError? { failure }

    /// Appends received bytes. Call ``next()`` after each feed; a caller that keeps feeding without taking
    /// requests out keeps the bytes buffered.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, bytes.count > 0 else { return }
        compact()
        buffer.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
    }

    /// Appends received bytes (see ``feed(_:)-(UnsafeRawBufferPointer)``).
    public mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        guard failure == nil else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Returns `true` once when the head just parsed carries `Expect: 100-continue` and its body has yet to
    /// be read; the server then sends `100 Continue`.
    public mutating func takeContinueExpectation() -> Bool {
        defer { continueExpected = false }
        return continueExpected
    }

    /// The next complete request, or `nil` when more bytes are needed.
    /// - Throws: ``HTTPParseError`` when the input is malformed or exceeds a limit; every later call throws
    ///   the same error.
    public mutating func next() throws(HTTPParseError) -> HTTPRequest? {
        if let failure { throw failure }
        do {
            return try step()
        } catch {
            failure = error
            pending = nil
            body = []
            throw error
        }
    }

    // MARK: - States

    private mutating func step() throws(HTTPParseError) -> HTTPRequest? {
        let bytes = buffer  // a second reference, so that `self` may change while its storage is read
        return try bytes.withUnsafeBufferPointer { (p) throws(HTTPParseError) -> HTTPRequest? in
            while true {
                switch state {
                case .head:
                    guard let headEnd = try scanForHeadEnd(p) else { return nil }
                    let (request, framing, expectsContinue) = try parseHead(p, start, headEnd)
                    start = headEnd
                    resetScan()
                    switch framing {
                    case .none:
                        return request
                    case .length(let length):
                        body = []
                        body.reserveCapacity(min(length, Self.initialBodyReservation))
                        state = .fixedBody(remaining: length)
                    case .chunked:
                        body = []
                        state = .chunkSize
                    }
                    pending = request
                    continueExpected = expectsContinue

                case .fixedBody(let remaining):
                    guard let left = takeBody(p, remaining: remaining) else { return nil }
                    if left > 0 {
                        state = .fixedBody(remaining: left)
                        return nil
                    }
                    return finishBody()

                case .chunkSize:
                    guard let (end, next) = try scanLine(p, limit: Self.maxChunkLineBytes, tooLong: .badChunk) else {
                        return nil
                    }
                    let size = try Self.parseChunkSize(p, start, end)
                    start = next
                    scanIndex = next
                    if size == 0 {
                        state = .trailers
                    } else {
                        guard size <= limits.maxBodyBytes - body.count else {
                            throw HTTPParseError(.bodyTooLarge, "chunked body exceeds \(limits.maxBodyBytes) bytes")
                        }
                        state = .chunkData(remaining: size)
                    }

                case .chunkData(let remaining):
                    guard let left = takeBody(p, remaining: remaining) else { return nil }
                    if left > 0 {
                        state = .chunkData(remaining: left)
                        return nil
                    }
                    state = .chunkDataEnd

                case .chunkDataEnd:
                    let available = p.count - start
                    if available == 0 { return nil }
                    if p[start] == ASCII.lf {
                        start += 1
                    } else if p[start] == ASCII.cr {
                        if available < 2 { return nil }
                        guard p[start + 1] == ASCII.lf else {
                            throw HTTPParseError(.badChunk, "chunk data not followed by CR LF")
                        }
                        start += 2
                    } else {
                        throw HTTPParseError(.badChunk, "chunk data longer than its size")
                    }
                    scanIndex = start
                    state = .chunkSize

                case .trailers:
                    let room = max(0, limits.maxHeaderBytes - trailerBytes)
                    guard let (end, next) = try scanLine(p, limit: room, tooLong: .headerSectionTooLarge) else {
                        return nil
                    }
                    if end == start {
                        start = next
                        return finishBody()
                    }
                    // Trailer fields are skipped: nothing in this server acts on them.
                    trailerBytes += next - start
                    lineCount += 1
                    guard lineCount <= limits.maxHeaderCount else { throw .tooManyHeaders }
                    start = next
                    scanIndex = next
                }
            }
        }
    }

    private mutating func finishBody() -> HTTPRequest? {
        state = .head
        resetScan()
        guard var request = pending else { return nil }
        request.body = body
        body = []
        pending = nil
        return request
    }

    /// Takes what is buffered of the `remaining` bytes of a body (or of a chunk).
    /// - Returns: The bytes still due after them (0: that part is complete), or nil when none is buffered.
    private mutating func takeBody(_ p: UnsafeBufferPointer<UInt8>, remaining: Int) -> Int? {
        let count = min(p.count - start, remaining)
        if count == 0 { return nil }
        body.append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<(start + count)]))
        start += count
        scanIndex = start
        return remaining - count
    }

    private mutating func resetScan() {
        scanIndex = start
        lineStart = start
        lineCount = 0
        trailerBytes = 0
    }

    private mutating func compact() {
        guard start > 0 else { return }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= Self.retainedBufferCapacity)
        } else if start >= 4096 && start * 2 >= buffer.count {
            buffer.removeSubrange(0..<start)
        } else {
            return
        }
        scanIndex -= start
        lineStart -= start
        start = 0
    }

    // MARK: - Lines

    @inline(__always)
    static func findLF(_ p: UnsafeBufferPointer<UInt8>, from index: Int) -> Int? {
        guard index < p.count, let base = p.baseAddress else { return nil }
        guard let hit = memchr(base + index, Int32(ASCII.lf), p.count - index) else { return nil }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
    }

    /// The end of a line's content: the LF at `lf`, or the CR just before it.
    @inline(__always)
    static func contentEnd(_ p: UnsafeBufferPointer<UInt8>, _ lineStart: Int, _ lf: Int) -> Int {
        (lf > lineStart && p[lf - 1] == ASCII.cr) ? lf - 1 : lf
    }

    /// Finds the end of the header section, resuming where the last call stopped.
    private mutating func scanForHeadEnd(_ p: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Int? {
        if scanIndex == start {
            // Empty lines before a request line are ignored (RFC 9112 §2.2); some clients send a CR LF
            // after a POST body.
            while start < p.count, p[start] == ASCII.cr || p[start] == ASCII.lf { start += 1 }
            scanIndex = start
            lineStart = start
        }
        let limit = limits.maxHeaderBytes
        while true {
            guard let lf = Self.findLF(p, from: scanIndex) else {
                scanIndex = p.count
                // Still in the request line: a target already over its limit is answered 414 before the
                // rest of it arrives.
                if lineCount == 0, p.count - start > limits.maxTargetBytes,
                   Self.targetLength(p, start, p.count) > limits.maxTargetBytes {
                    throw HTTPParseError(.uriTooLong, "request target exceeds \(limits.maxTargetBytes) bytes")
                }
                if p.count - start > limit {
                    throw HTTPParseError(.headerSectionTooLarge, "header section exceeds \(limit) bytes")
                }
                return nil
            }
            if lf + 1 - start > limit {
                if lineCount == 0, Self.targetLength(p, start, lf) > limits.maxTargetBytes {
                    throw HTTPParseError(.uriTooLong, "request target exceeds \(limits.maxTargetBytes) bytes")
                }
                throw HTTPParseError(.headerSectionTooLarge, "header section exceeds \(limit) bytes")
            }
            let length = lf - lineStart
            if length == 0 || (length == 1 && p[lineStart] == ASCII.cr) { return lf + 1 }
            lineCount += 1
            if lineCount > limits.maxHeaderCount + 1 {
                throw HTTPParseError(.tooManyHeaders, "more than \(limits.maxHeaderCount) header fields")
            }
            lineStart = lf + 1
            scanIndex = lf + 1
        }
    }

    /// The length of the target in a (possibly incomplete) request line `p[begin..<end]`: the bytes after
    /// the first space up to the next space or `end`; 0 when there is no space yet.
    static func targetLength(_ p: UnsafeBufferPointer<UInt8>, _ begin: Int, _ end: Int) -> Int {
        guard let base = p.baseAddress, end > begin,
              let first = memchr(base + begin, Int32(ASCII.space), end - begin) else { return 0 }
        let targetStart = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(first)) + 1
        guard targetStart < end else { return 0 }
        guard let second = memchr(base + targetStart, Int32(ASCII.space), end - targetStart) else { return end - targetStart }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(second)) - targetStart
    }

    /// Finds the end of the line starting at `start`; returns the end of its content and the next line.
    private mutating func scanLine(
        _ p: UnsafeBufferPointer<UInt8>, limit: Int, tooLong: HTTPParseError
    ) throws(HTTPParseError) -> (Int, Int)? {
        guard let lf = Self.findLF(p, from: max(scanIndex, start)) else {
            scanIndex = p.count
            if p.count - start > limit { throw tooLong }
            return nil
        }
        if lf - start > limit { throw tooLong }
        return (Self.contentEnd(p, start, lf), lf + 1)
    }

    // MARK: - Head

    private func parseHead(
        _ p: UnsafeBufferPointer<UInt8>, _ begin: Int, _ end: Int
    ) throws(HTTPParseError) -> (HTTPRequest, Framing, Bool) {
        guard let firstLF = Self.findLF(p, from: begin), firstLF < end else { throw .badRequestLine }
        var request = try Self.parseRequestLine(p, begin, Self.contentEnd(p, begin, firstLF), maxTarget: limits.maxTargetBytes)

        var fields: [HTTPHeaders.Field] = []
        fields.reserveCapacity(max(0, lineCount - 1))
        var contentLength: Int?
        var transferEncodings = 0
        var chunked = false
        var hosts = 0
        var close = false
        var keepAlive = false
        var expectsContinue = false

        var lineNumber = 1
        var index = firstLF + 1
        while index < end, let lf = Self.findLF(p, from: index) {
            let lineEnd = Self.contentEnd(p, index, lf)
            if lineEnd == index { break }
            lineNumber += 1
            if ASCII.isWhitespace(p[index]) {
                throw HTTPParseError(.obsoleteLineFolding, "header line \(lineNumber): starts with whitespace (obsolete line folding)")
            }
            var colon = index
            while colon < lineEnd, p[colon] != ASCII.colon {
                guard ASCII.isTokenChar(p[colon]) else {
                    if ASCII.isWhitespace(p[colon]) {
                        throw HTTPParseError(.badHeaderName, "header line \(lineNumber): whitespace in the name or before the colon")
                    }
                    throw HTTPParseError(.badHeaderName, "header line \(lineNumber): byte \(p[colon]) in the name")
                }
                colon += 1
            }
            guard colon < lineEnd else {
                throw HTTPParseError(.badHeaderName, "header line \(lineNumber): no colon")
            }
            guard colon > index else {
                throw HTTPParseError(.badHeaderName, "header line \(lineNumber): empty name")
            }
            var valueStart = colon + 1
            var valueEnd = lineEnd
            while valueStart < valueEnd, ASCII.isWhitespace(p[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart, ASCII.isWhitespace(p[valueEnd - 1]) { valueEnd -= 1 }
            for k in valueStart..<valueEnd where !ASCII.isFieldValueByte(p[k]) {
                throw HTTPParseError(.badHeaderValue, "header line \(lineNumber): control byte \(p[k]) in the value")
            }
            let name = index..<colon
            let value = valueStart..<valueEnd
            switch name.count {
            case 4 where ASCII.equalsIgnoringCase(p, name, "host"):
                hosts += 1
            case 6 where ASCII.equalsIgnoringCase(p, name, "expect"):
                guard ASCII.equalsIgnoringCase(p, value, "100-continue") else {
                    throw HTTPParseError(.unsupportedExpectation, "header line \(lineNumber): unsupported expectation")
                }
                expectsContinue = true
            case 10 where ASCII.equalsIgnoringCase(p, name, "connection"):
                Self.forEachToken(p, value) { token in
                    if ASCII.equalsIgnoringCase(p, token, "close") { close = true }
                    if ASCII.equalsIgnoringCase(p, token, "keep-alive") { keepAlive = true }
                }
            case 14 where ASCII.equalsIgnoringCase(p, name, "content-length"):
                try Self.parseContentLength(p, value, into: &contentLength, line: lineNumber)
            case 17 where ASCII.equalsIgnoringCase(p, name, "transfer-encoding"):
                transferEncodings += 1
                chunked = ASCII.equalsIgnoringCase(p, value, "chunked")
            default:
                break
            }
            fields.append(HTTPHeaders.Field(name: Self.string(p, name), value: Self.string(p, value)))
            index = lf + 1
        }
        request.headers = HTTPHeaders(fields: fields)

        let isHTTP11 = request.version.minor >= 1
        if hosts > 1 || (isHTTP11 && hosts == 0) { throw .badHost }
        request.keepAlive = isHTTP11 ? !close : (keepAlive && !close)

        let framing: Framing
        if transferEncodings > 0 {
            guard isHTTP11 else {
                throw HTTPParseError(.conflictingFraming, "Transfer-Encoding in an HTTP/1.0 request")
            }
            guard contentLength == nil else {
                throw HTTPParseError(.conflictingFraming, "both Content-Length and Transfer-Encoding")
            }
            guard transferEncodings == 1, chunked else {
                throw HTTPParseError(.unsupportedTransferEncoding, "transfer coding other than chunked")
            }
            framing = .chunked
        } else if let length = contentLength, length > 0 {
            guard length <= limits.maxBodyBytes else {
                throw HTTPParseError(.bodyTooLarge, "Content-Length \(length) exceeds \(limits.maxBodyBytes) bytes")
            }
            framing = .length(length)
        } else {
            framing = .none
        }
        let hasBody: Bool
        if case .none = framing { hasBody = false } else { hasBody = true }
        return (request, framing, expectsContinue && isHTTP11 && hasBody)
    }

    private static func parseRequestLine(
        _ p: UnsafeBufferPointer<UInt8>, _ begin: Int, _ end: Int, maxTarget: Int
    ) throws(HTTPParseError) -> HTTPRequest {
        var space1 = begin
        while space1 < end, p[space1] != ASCII.space {
            guard ASCII.isTokenChar(p[space1]) else {
                throw HTTPParseError(.badRequestLine, "request line: byte \(p[space1]) in the method")
            }
            space1 += 1
        }
        guard space1 > begin, space1 < end else { throw HTTPParseError(.badRequestLine, "request line: no method") }
        var space2 = space1 + 1
        while space2 < end, p[space2] != ASCII.space {
            guard ASCII.isTargetByte(p[space2]) else {
                throw HTTPParseError(.badTarget, "request line: byte \(p[space2]) in the target")
            }
            space2 += 1
        }
        guard space2 > space1 + 1, space2 < end else {
            throw HTTPParseError(.badRequestLine, "request line: no target or no version")
        }
        if space2 - (space1 + 1) > maxTarget {
            throw HTTPParseError(.uriTooLong, "request target exceeds \(maxTarget) bytes")
        }
        let version = try parseVersion(p, (space2 + 1)..<end)
        let method = makeMethod(p, begin..<space1)
        // The asterisk form asks about the server as a whole, and only OPTIONS can ask that (RFC 9112 §3.2.4).
        if space2 == space1 + 2 && p[space1 + 1] == ASCII.asterisk && method != .options {
            throw HTTPParseError(.badTarget, "request target * is for OPTIONS only")
        }
        let (path, query) = try parseTarget(p, (space1 + 1)..<space2)
        return HTTPRequest(method: method, path: path, query: query, version: version)
    }

    private static func parseVersion(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(HTTPParseError) -> HTTPVersion {
        let prefix: StaticString = "HTTP/"
        guard r.count > 5 else { throw HTTPParseError(.badRequestLine, "request line: malformed version") }
        let expected = prefix.utf8Start
        for i in 0..<5 where p[r.lowerBound + i] != expected[i] {
            throw HTTPParseError(.badRequestLine, "request line: malformed version")
        }
        let digits = (r.lowerBound + 5)..<r.upperBound
        if digits.count == 3, p[digits.lowerBound + 1] == ASCII.dot,
           case 0x30...0x39 = p[digits.lowerBound], case 0x30...0x39 = p[digits.lowerBound + 2] {
            let major = Int(p[digits.lowerBound] - 0x30)
            let minor = Int(p[digits.lowerBound + 2] - 0x30)
            // A later 1.x is answered as 1.1 (RFC 9110 §2.5); other majors are not spoken here.
            if major == 1 { return minor == 0 ? .http1_0 : .http1_1 }
            throw HTTPParseError(.unsupportedVersion, "HTTP/\(major).\(minor) is not supported")
        }
        for i in digits where !(p[i] == ASCII.dot || (0x30...0x39).contains(p[i])) {
            throw HTTPParseError(.badRequestLine, "request line: malformed version")
        }
        throw HTTPParseError(.unsupportedVersion, "HTTP version \(string(p, digits)) is not supported")
    }

    private static func makeMethod(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> HTTPMethod {
        // The common methods skip String validation; the rest are tokens, hence ASCII.
        switch r.count {
        case 3 where p[r.lowerBound] == 0x47 && p[r.lowerBound + 1] == 0x45 && p[r.lowerBound + 2] == 0x54:
            return .get
        case 4 where p[r.lowerBound] == 0x50 && p[r.lowerBound + 1] == 0x4F && p[r.lowerBound + 2] == 0x53
            && p[r.lowerBound + 3] == 0x54:
            return .post
        default:
            return HTTPMethod(rawValue: string(p, r))
        }
    }

    private static func parseTarget(
        _ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>
    ) throws(HTTPParseError) -> (String, String?) {
        var pathStart = r.lowerBound
        let first = p[pathStart]
        if first == ASCII.slash {
            // origin-form, the usual case
        } else if r.count == 1 && first == ASCII.asterisk {
            return ("*", nil)
        } else if let afterScheme = absoluteFormAuthorityStart(p, r) {
            // absolute-form (RFC 9112 §3.2.2): servers must accept it; the authority is not used here.
            pathStart = afterScheme
            while pathStart < r.upperBound, p[pathStart] != ASCII.slash, p[pathStart] != ASCII.question {
                pathStart += 1
            }
            if pathStart == r.upperBound { return ("/", nil) }
            if p[pathStart] == ASCII.question {
                return ("/", string(p, (pathStart + 1)..<r.upperBound))
            }
        } else {
            throw HTTPParseError(.badTarget, "request target is neither a path nor an absolute URI")
        }
        var question = pathStart
        while question < r.upperBound, p[question] != ASCII.question { question += 1 }
        if question == r.upperBound { return (string(p, pathStart..<r.upperBound), nil) }
        return (string(p, pathStart..<question), string(p, (question + 1)..<r.upperBound))
    }

    private static func absoluteFormAuthorityStart(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        if r.count >= 7, ASCII.equalsIgnoringCase(p, r.lowerBound..<(r.lowerBound + 7), "http://") {
            return r.lowerBound + 7
        }
        if r.count >= 8, ASCII.equalsIgnoringCase(p, r.lowerBound..<(r.lowerBound + 8), "https://") {
            return r.lowerBound + 8
        }
        return nil
    }

    private static func parseContentLength(
        _ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, into length: inout Int?, line: Int
    ) throws(HTTPParseError) {
        // digits only; a list of identical values ("5, 5") is one value (RFC 9110 §8.6)
        var i = r.lowerBound
        while true {
            while i < r.upperBound, ASCII.isWhitespace(p[i]) { i += 1 }
            var value = 0
            var digits = 0
            while i < r.upperBound, case 0x30...0x39 = p[i] {
                let digit = Int(p[i] - 0x30)
                value = value > (Int.max - digit) / 10 ? Int.max : value * 10 + digit
                digits += 1
                i += 1
            }
            guard digits > 0 else {
                throw HTTPParseError(.badContentLength, "header line \(line): Content-Length is not a number")
            }
            while i < r.upperBound, ASCII.isWhitespace(p[i]) { i += 1 }
            if let previous = length, previous != value {
                throw HTTPParseError(.badContentLength, "header line \(line): differing Content-Length values")
            }
            length = value
            if i == r.upperBound { return }
            guard p[i] == ASCII.comma else {
                throw HTTPParseError(.badContentLength, "header line \(line): Content-Length is not a number")
            }
            i += 1
        }
    }

    private static func parseChunkSize(_ p: UnsafeBufferPointer<UInt8>, _ begin: Int, _ end: Int) throws(HTTPParseError) -> Int {
        // 15 significant hex digits keep the size below 2^60: no overflow, and far beyond any body limit.
        var i = begin
        var size = 0
        var digits = 0
        var significant = 0
        while i < end, let value = ASCII.hexValue(p[i]) {
            digits += 1
            if size != 0 || value != 0 { significant += 1 }
            guard significant <= 15 else { throw HTTPParseError(.badChunk, "chunk size overflows") }
            size = size << 4 | value
            i += 1
        }
        guard digits > 0 else { throw HTTPParseError(.badChunk, "chunk size is not hexadecimal") }
        while i < end, ASCII.isWhitespace(p[i]) { i += 1 }
        if i < end {
            guard p[i] == ASCII.semicolon else { throw HTTPParseError(.badChunk, "junk after the chunk size") }
            for k in i..<end where !ASCII.isFieldValueByte(p[k]) {
                throw HTTPParseError(.badChunk, "control byte in a chunk extension")
            }
        }
        return size
    }

    private static func forEachToken(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ body: (Range<Int>) -> Void) {
        var i = r.lowerBound
        while i < r.upperBound {
            while i < r.upperBound, ASCII.isWhitespace(p[i]) || p[i] == ASCII.comma { i += 1 }
            let tokenStart = i
            while i < r.upperBound, p[i] != ASCII.comma { i += 1 }
            var tokenEnd = i
            while tokenEnd > tokenStart, ASCII.isWhitespace(p[tokenEnd - 1]) { tokenEnd -= 1 }
            if tokenEnd > tokenStart { body(tokenStart..<tokenEnd) }
        }
    }

    @inline(__always)
    static func string(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: p[r]), as: UTF8.self)
    }
}
