/// Bytes from the server that are not valid RESP2, or that exceed the parser's limits.
///
/// Once a parser has thrown one of these it stays failed: the stream can no longer be trusted to be in
/// step, so the connection must be closed.
public struct RESPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of violation this was; compare with the static members (`error.code == .bulkTooLong`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unknownType = "unknown type"
            case malformedNumber = "malformed number"
            case malformedLineEnding = "malformed line ending"
            case lineTooLong = "line too long"
            case invalidLength = "invalid length"
            case bulkTooLong = "bulk string too long"
            case arrayTooLong = "array too long"
            case nestingTooDeep = "nesting too deep"
            case replyTooLong = "reply too long"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The first byte of a value is none of `+ - : $ *`.
        public static let unknownType = Code(.unknownType)
        /// An integer, bulk length or array count that is not a decimal 64-bit integer.
        public static let malformedNumber = Code(.malformedNumber)
        /// A CR not followed by LF, or a bulk string not followed by CRLF.
        public static let malformedLineEnding = Code(.malformedLineEnding)
        /// A status, error or header line longer than ``RESPParser/Limits/maxLineLength``.
        public static let lineTooLong = Code(.lineTooLong)
        /// A bulk length or array count below -1.
        public static let invalidLength = Code(.invalidLength)
        /// A bulk string longer than ``RESPParser/Limits/maxBulkLength``.
        public static let bulkTooLong = Code(.bulkTooLong)
        /// An array with more elements than ``RESPParser/Limits/maxArrayCount``.
        public static let arrayTooLong = Code(.arrayTooLong)
        /// Arrays nested deeper than ``RESPParser/Limits/maxDepth``.
        public static let nestingTooDeep = Code(.nestingTooDeep)
        /// One reply larger in all than ``RESPParser/Limits/maxReplyLength``.
        public static let replyTooLong = Code(.replyTooLong)

        public var description: String { base.rawValue }
    }

    /// The kind of violation.
    public let code: Code
    /// What was wrong, with the offending value or limit.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "RESP protocol error: \(message)" }
}
