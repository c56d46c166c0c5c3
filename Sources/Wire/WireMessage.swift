/// A value with a wire encoding: nested structures inside messages.
public protocol WireCodable: Sendable {
    /// Decodes a value, reading exactly its bytes.
    /// - Throws: ``WireError`` on truncated or invalid input.
    init(from reader: inout WireReader) throws
    /// Appends the value's encoding.
    func encode(to writer: inout WireWriter)
}

/// A service message: a ``WireCodable`` with the frame `type` that carries it.
///
/// Each service declares its messages (types are per service, so `limitd` and `cached` may both use 1)
/// next to its client stub, so callers never build payloads by hand.
public protocol WireMessage: WireCodable {
    /// The frame `type` of requests carrying this message.
    static var type: UInt16 { get }
}

extension WireCodable {
    /// The value's encoding as a payload.
    public func encoded() -> [UInt8] {
        var writer = WireWriter()
        encode(to: &writer)
        return writer.bytes
    }

    /// Decodes a whole payload; bytes left over are an error.
    /// - Parameter payload: The payload.
    /// - Throws: ``WireError`` on truncated, invalid or trailing input.
    public init(decoding payload: [UInt8]) throws {
        var reader = WireReader(payload)
        self = try Self(from: &reader)
        try reader.expectEnd()
    }
}
