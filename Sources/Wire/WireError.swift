/// A frame or payload that cannot be decoded: truncated, oversized or invalid input.
///
/// Its description names what was wrong and where, e.g. `string length 70000 exceeds remaining 12 bytes`.
/// Compare with the static constructors (`WireError.frameTooLarge(length: 70000, max: 65536)`).
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case truncated(what: String, offset: Int, needed: Int, remaining: Int)
        case lengthExceedsRemaining(what: String, length: UInt64, remaining: Int)
        case lengthExceedsMaximum(what: String, length: UInt64, maximum: Int)
        case invalidUTF8(offset: Int, length: Int)
        case invalidValue(what: String, value: UInt64)
        case trailingBytes(count: Int)
        case frameTooLarge(length: UInt64, maximum: Int)
        case unsupportedVersion(UInt8)
        case unknownKind(UInt8)
        case nonzeroFlags(UInt16)
        case nonzeroReserved(UInt16)
        case other(String)
    }

    private let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// Fewer bytes remain than a fixed-size field needs.
    public static func truncated(_ what: String, offset: Int, needed: Int, remaining: Int) -> WireError {
        WireError(.truncated(what: what, offset: offset, needed: needed, remaining: remaining))
    }

    /// A length or count prefix announces more bytes than remain in the payload.
    public static func lengthExceedsRemaining(_ what: String, length: UInt64, remaining: Int) -> WireError {
        WireError(.lengthExceedsRemaining(what: what, length: length, remaining: remaining))
    }

    /// A length or count prefix is above the maximum the reader allows.
    public static func lengthExceedsMaximum(_ what: String, length: UInt64, maximum: Int) -> WireError {
        WireError(.lengthExceedsMaximum(what: what, length: length, maximum: maximum))
    }

    /// String bytes are not valid UTF-8.
    public static func invalidUTF8(offset: Int, length: Int) -> WireError {
        WireError(.invalidUTF8(offset: offset, length: length))
    }

    /// A field holds a value outside its domain (a bool that is 7, an unknown enum case).
    public static func invalidValue(_ what: String, _ value: UInt64) -> WireError {
        WireError(.invalidValue(what: what, value: value))
    }

    /// A message was decoded but bytes were left over.
    public static func trailingBytes(count: Int) -> WireError {
        WireError(.trailingBytes(count: count))
    }

    /// A frame header announces a payload above the maximum.
    public static func frameTooLarge(length: UInt64, max: Int) -> WireError {
        WireError(.frameTooLarge(length: length, maximum: max))
    }

    /// A frame header carries a version byte other than ``Frame/wireVersion``.
    public static func unsupportedVersion(_ version: UInt8) -> WireError {
        WireError(.unsupportedVersion(version))
    }

    /// A frame header carries a kind byte that is not a ``FrameKind``.
    public static func unknownKind(_ kind: UInt8) -> WireError {
        WireError(.unknownKind(kind))
    }

    /// A frame header has flag bits set (none are defined in version 1).
    public static func nonzeroFlags(_ flags: UInt16) -> WireError {
        WireError(.nonzeroFlags(flags))
    }

    /// A frame header's reserved field is not zero.
    public static func nonzeroReserved(_ reserved: UInt16) -> WireError {
        WireError(.nonzeroReserved(reserved))
    }

    /// Anything else, in the caller's words (for services validating their own messages).
    public static func invalid(_ message: String) -> WireError {
        WireError(.other(message))
    }

    /// Whether this error is about a frame header (as opposed to a payload).
    public var isFrameHeaderError: Bool {
        switch kind {
        case .frameTooLarge, .unsupportedVersion, .unknownKind, .nonzeroFlags, .nonzeroReserved: true
        default: false
        }
    }

    /// Whether a frame header announced a payload above the maximum.
    public var isFrameTooLarge: Bool {
        if case .frameTooLarge = kind { return true }
        return false
    }

    /// What was wrong and where.
    public var description: String {
        switch kind {
        case let .truncated(what, offset, needed, remaining):
            "truncated \(what) at offset \(offset): needs \(needed) bytes, \(remaining) remaining"
        case let .lengthExceedsRemaining(what, length, remaining):
            "\(what) \(length) exceeds remaining \(remaining) bytes"
        case let .lengthExceedsMaximum(what, length, maximum):
            "\(what) \(length) exceeds maximum \(maximum)"
        case let .invalidUTF8(offset, length):
            "string of \(length) bytes at offset \(offset) is not valid UTF-8"
        case let .invalidValue(what, value):
            "invalid \(what) \(value)"
        case let .trailingBytes(count):
            "\(count) unexpected bytes after the end of the message"
        case let .frameTooLarge(length, maximum):
            "frame length \(length) exceeds maximum \(maximum)"
        case let .unsupportedVersion(version):
            "unsupported frame version \(version) (expected \(Frame.wireVersion))"
        case let .unknownKind(kind):
            "unknown frame kind \(kind)"
        case let .nonzeroFlags(flags):
            "frame flags 0x\(String(flags, radix: 16)) are not defined in version \(Frame.wireVersion)"
        case let .nonzeroReserved(reserved):
            "frame reserved field is 0x\(String(reserved, radix: 16)), must be 0"
        case let .other(message):
            message
        }
    }
}
