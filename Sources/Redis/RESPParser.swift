import Crypto
import Glibc

/// An incremental RESP2 reply parser: bytes in, ``RESPValue``s out.
///
/// Feed it whatever arrived with ``append(_:)-(UnsafeRawBufferPointer)`` and call ``next()`` until it
/// returns `nil` ("need more bytes"). Partial input is kept, and arrays that arrive piecemeal are built
/// up as their elements come, so a large reply split over many reads is never parsed twice.
///
/// Every length and count the server declares is checked against ``Limits`` before anything is
/// allocated for it, so a corrupt or hostile server cannot make the client reserve gigabytes. After the
/// first ``RESPProtocolError`` the parser stays failed and rethrows it: close the connection.
public struct RESPParser: Sendable {
    /// Bounds on what one reply may declare; each is checked before the parser allocates for it.
    public struct Limits: Sendable, Hashable {
        /// Longest bulk string accepted (bytes).
        public var maxBulkLength: Int
        /// Most elements one array may declare.
        public var maxArrayCount: Int
        /// Deepest nesting of arrays (a flat array is depth 1).
        public var maxDepth: Int
        /// Longest status, error, integer or header line (bytes, without CRLF).
        public var maxLineLength: Int
        /// Upper bound on the memory one whole reply may take, estimated as its bytes on the wire plus
        /// ``perValueOverhead`` for each value in it (what a value costs in memory beyond its bytes).
        public var maxReplySize: Int

        /// Memory charged to ``maxReplySize`` for each value, beyond its bytes: so that a reply of many tiny
        /// values (`*1048576` of `:0`) is bounded by what it takes in memory, not by its few wire bytes.
        public static let perValueOverhead = 32

        /// Limits with defaults suited to a rate limiter and a response cache: 64 MiB bulk strings,
        /// 1,048,576 elements per array, depth 16, 64 KiB lines, 128 MiB per reply.
        public init(
            maxBulkLength: Int = 64 << 20,
            maxArrayCount: Int = 1 << 20,
            maxDepth: Int = 16,
            maxLineLength: Int = 64 << 10,
            maxReplySize: Int = 128 << 20
        ) {
            // Clamped so that sums of a limit and a few header bytes can never overflow.
            let ceiling = Int.max / 4
            self.maxBulkLength = min(max(maxBulkLength, 0), ceiling)
            self.maxArrayCount = min(max(maxArrayCount, 0), ceiling)
            self.maxDepth = min(max(maxDepth, 0), ceiling)
            self.maxLineLength = min(max(maxLineLength, 1), ceiling)
            self.maxReplySize = min(max(maxReplySize, 0), ceiling)
        }
    }

    /// An array whose header has been read and whose elements are still arriving.
    private struct OpenArray {
        var elements: [RESPValue]
        var remaining: Int
    }

    /// What one header line (plus, for a bulk string, its body) yields.
    private enum Item {
        case value(RESPValue)
        case arrayHeader(count: Int)
    }

    private static let carriageReturn = UInt8(ascii: "\r")
    private static let lineFeed = UInt8(ascii: "\n")
    /// Bytes already consumed are dropped from the front of the buffer once this many have piled up
    /// (and they are at least half of it), so compaction costs amortised O(1) per byte.
    private static let compactionThreshold = 64 << 10
    /// A buffer that grew past this for one large reply is released once empty instead of kept.
    private static let retainedCapacity = 1 << 20
    /// Elements reserved up front for an array: enough for common replies, small whatever the header says.
    private static let initialArrayReservation = 1024

    /// The limits this parser enforces.
    public let limits: Limits
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var openArrays: [OpenArray] = []
    /// Memory charged so far to the reply being parsed (see ``Limits/maxReplySize``).
    private var replySize = 0
    private var failure: RESPProtocolError?

    /// Creates an empty parser.
    /// - Parameter limits: What a reply may declare before it is refused.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Bytes received and not yet consumed by a complete value or array header.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Whether a reply has been started (some of its bytes or elements consumed) but not finished.
    public var isInsideReply: Bool { !openArrays.isEmpty || bufferedByteCount > 0 }

    /// Adds bytes received from the server.
    /// - Parameter bytes: The next bytes of the stream, in order.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    /// Adds bytes received from the server.
    /// - Parameter bytes: The next bytes of the stream, in order.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Parses the next complete reply.
    /// - Returns: The reply, or `nil` when more bytes are needed.
    /// - Throws: ``RESPProtocolError`` when the bytes are not RESP2 or exceed ``limits``; every later call
    ///   throws the same error.
    public mutating func next() throws(RESPProtocolError) -> RESPValue? {
        if let failure { throw failure }
        do throws(RESPProtocolError) {
            let value = try parseValue()
            compact()
            return value
        } catch {
            failure = error
            throw error
        }
    }

    // MARK: - Values

    private mutating func parseValue() throws(RESPProtocolError) -> RESPValue? {
        nextItem: while true {
            guard let item = try parseItem() else { return nil }
            var completed: RESPValue
            switch item {
            case .value(let value):
                completed = value
            case .arrayHeader(let count):
                guard count > 0 else {
                    completed = .array([])
                    break
                }
                var elements: [RESPValue] = []
                elements.reserveCapacity(min(count, Self.initialArrayReservation))
                openArrays.append(OpenArray(elements: elements, remaining: count))
                continue nextItem
            }
            // Fold the finished value into the arrays waiting for it; each one it completes is itself a
            // finished value for the array around it.
            while !openArrays.isEmpty {
                let innermost = openArrays.count - 1
                openArrays[innermost].elements.append(completed)
                openArrays[innermost].remaining -= 1
                if openArrays[innermost].remaining > 0 { continue nextItem }
                completed = .array(openArrays.removeLast().elements)
            }
            replySize = 0
            return completed
        }
    }

    /// Reads one header line, and for a bulk string its body, without consuming anything unless the
    /// whole item is there.
    private mutating func parseItem() throws(RESPProtocolError) -> Item? {
        guard readIndex < buffer.count else { return nil }
        let type = buffer[readIndex]
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "$"), UInt8(ascii: "*"):
            break
        default:
            throw RESPProtocolError(.unknownType, "unknown RESP type byte \(Self.describe(byte: type))\(Self.resp3Hint(type))")
        }
        guard let lineEnd = try findLineEnd(of: type) else { return nil }
        let content = (readIndex + 1)..<lineEnd
        let afterLine = lineEnd + 2
        let lineSize = afterLine - readIndex

        switch type {
        case UInt8(ascii: "+"):
            try consume(lineSize)
            return .value(.simpleString(String(decoding: buffer[content], as: UTF8.self)))
        case UInt8(ascii: "-"):
            try consume(lineSize)
            return .value(.error(String(decoding: buffer[content], as: UTF8.self)))
        case UInt8(ascii: ":"):
            let value = try parseInteger(content, what: "integer reply")
            try consume(lineSize)
            return .value(.integer(value))
        case UInt8(ascii: "$"):
            guard let length = try parseLength(
                content, what: "bulk string length", maximum: limits.maxBulkLength, tooLong: .bulkTooLong)
            else {
                try consume(lineSize)
                return .value(.null)
            }
            let itemSize = lineSize + length + 2
            try checkReplySize(adding: itemSize)
            guard buffer.count - readIndex >= itemSize else {
                buffer.reserveCapacity(readIndex + itemSize)
                return nil
            }
            let bodyEnd = afterLine + length
            guard buffer[bodyEnd] == Self.carriageReturn, buffer[bodyEnd + 1] == Self.lineFeed else {
                throw RESPProtocolError(
                    .malformedLineEnding, "bulk string of length \(length) is not followed by CRLF")
            }
            let bytes = Array(buffer[afterLine..<bodyEnd])
            try consume(itemSize)
            return .value(.bulkString(bytes))
        default:  // "*"
            guard let count = try parseLength(
                content, what: "array count", maximum: limits.maxArrayCount, tooLong: .arrayTooLong)
            else {
                try consume(lineSize)
                return .value(.null)
            }
            guard openArrays.count < limits.maxDepth else {
                throw RESPProtocolError(.nestingTooDeep, "arrays nested deeper than the maximum depth \(limits.maxDepth)")
            }
            try consume(lineSize)
            return .arrayHeader(count: count)
        }
    }

    // MARK: - Bytes

    /// The index of the CR ending the line that starts at `readIndex`, or `nil` when it has not arrived.
    private func findLineEnd(of type: UInt8) throws(RESPProtocolError) -> Int? {
        let searchStart = readIndex + 1
        // The CR of a line of exactly maxLineLength bytes sits at searchStart + maxLineLength.
        let searchEnd = min(buffer.count, searchStart + limits.maxLineLength + 1)
        var carriageReturn: Int?
        if searchStart < searchEnd {
            carriageReturn = buffer.withUnsafeBufferPointer { bytes -> Int? in
                guard let base = bytes.baseAddress,
                    let found = memchr(base + searchStart, Int32(Self.carriageReturn), searchEnd - searchStart)
                else { return nil }
                return UnsafeRawPointer(found) - UnsafeRawPointer(base)
            }
        }
        guard let carriageReturn else {
            if buffer.count - searchStart > limits.maxLineLength {
                throw RESPProtocolError(
                    .lineTooLong,
                    "\(Self.describe(byte: type)) line longer than the maximum \(limits.maxLineLength) bytes without CRLF")
            }
            return nil
        }
        guard carriageReturn + 1 < buffer.count else { return nil }
        guard buffer[carriageReturn + 1] == Self.lineFeed else {
            throw RESPProtocolError(
                .malformedLineEnding, "CR not followed by LF in a \(Self.describe(byte: type)) line")
        }
        return carriageReturn
    }

    /// A bulk string's length or an array's count (`what`): `nil` for -1 (RESP2's null), otherwise the
    /// number, which must be from 0 to `maximum` (a larger one throws `tooLong`).
    private func parseLength(
        _ range: Range<Int>, what: String, maximum: Int, tooLong: RESPProtocolError.Code
    ) throws(RESPProtocolError) -> Int? {
        let declared = try parseInteger(range, what: what)
        if declared == -1 { return nil }
        guard declared >= 0 else {
            throw RESPProtocolError(.invalidLength, "\(what) \(declared) is negative (only -1, null, is allowed)")
        }
        guard declared <= maximum else {
            throw RESPProtocolError(tooLong, "\(what) \(declared) exceeds maximum \(maximum)")
        }
        return Int(declared)
    }

    /// A decimal 64-bit integer with an optional minus sign, nothing else.
    private func parseInteger(_ range: Range<Int>, what: String) throws(RESPProtocolError) -> Int64 {
        var index = range.lowerBound
        let negative = index < range.upperBound && buffer[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        var value: Int64 = 0
        var valid = index < range.upperBound
        while valid, index < range.upperBound {
            let digit = buffer[index] &- UInt8(ascii: "0")
            guard digit < 10 else {
                valid = false
                break
            }
            let (shifted, overflowShift) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowAdd) =
                negative
                ? shifted.subtractingReportingOverflow(Int64(digit)) : shifted.addingReportingOverflow(Int64(digit))
            if overflowShift || overflowAdd { valid = false }
            value = next
            index += 1
        }
        guard valid else {
            throw RESPProtocolError(.malformedNumber, "\(what) \(quote(range)) is not a 64-bit decimal integer")
        }
        return value
    }

    private mutating func consume(_ count: Int) throws(RESPProtocolError) {
        try checkReplySize(adding: count)
        readIndex += count
        replySize += count + Limits.perValueOverhead
    }

    private func checkReplySize(adding count: Int) throws(RESPProtocolError) {
        let projected = replySize + count + Limits.perValueOverhead
        guard projected <= limits.maxReplySize else {
            throw RESPProtocolError(
                .replyTooLong, "reply would take more than the maximum \(limits.maxReplySize) bytes (at least \(projected))")
        }
    }

    private mutating func compact() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= Self.retainedCapacity)
            readIndex = 0
        } else if readIndex >= Self.compactionThreshold, readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    // MARK: - Messages

    /// Up to 40 bytes of a line, printable, in quotes.
    private func quote(_ range: Range<Int>) -> String {
        let shown = range.prefix(40)
        var text = ""
        for index in shown {
            let byte = buffer[index]
            text += (0x20..<0x7f).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + Hex.encode([byte])
        }
        return "'" + text + (range.count > shown.count ? "...'" : "'")
    }

    private static func describe(byte: UInt8) -> String {
        let printable = (0x21..<0x7f).contains(byte) ? " ('\(UnicodeScalar(byte))')" : ""
        return "0x\(Hex.encode([byte]))\(printable)"
    }

    private static func resp3Hint(_ type: UInt8) -> String {
        let resp3Types: Set<UInt8> = Set("_,#(!=%~>|".utf8)
        return resp3Types.contains(type) ? "; that is a RESP3 type, and this client speaks RESP2 (never sends HELLO 3)" : ""
    }
}
