/// One protocol frame: the fixed 20-byte header's meaningful fields and the payload that follows it.
///
/// Layout (big-endian): `length u32 · version u8 · kind u8 · type u16 · flags u16 · reserved u16 ·
/// correlation u64`, then `length` payload bytes. `reserved` is always zero, so it is not stored here;
/// `flags` holds the bits of ``FrameFlags`` a connection agreed on in HELLO. See docs/PROTOCOL.md.
public struct Frame: Sendable, Hashable {
    /// Bytes in the fixed header.
    public static let headerSize = 20
    /// The header `version` byte this implementation writes and accepts.
    public static let wireVersion: UInt8 = 1
    /// Default maximum payload (1 MiB); a header announcing more is refused before anything is buffered.
    public static let defaultMaxPayload = 1 << 20

    /// What the frame is for.
    public var kind: FrameKind
    /// Message type, meaningful to the service; 0 for control frames (HELLO, HELLO_ACK, CANCEL, and
    /// connection-level ERROR). REPLY, CHUNK, END and ERROR for a call echo the request's type.
    public var type: UInt16
    /// The call this frame belongs to, chosen by the client, unique per connection; 0 for the connection.
    public var correlation: UInt64
    /// ``FrameFlags`` bits; 0 unless the connection negotiated a feature that defines one.
    public var flags: UInt16
    /// The bytes after the header.
    public var payload: [UInt8]

    /// Creates a frame.
    /// - Parameters:
    ///   - kind: What the frame is for.
    ///   - type: Message type (0 for control frames).
    ///   - correlation: Call id (0 for the connection).
    ///   - flags: ``FrameFlags`` bits (0 unless negotiated).
    ///   - payload: The bytes after the header.
    public init(kind: FrameKind, type: UInt16 = 0, correlation: UInt64 = 0, flags: UInt16 = 0, payload: [UInt8] = []) {
        self.kind = kind
        self.type = type
        self.correlation = correlation
        self.flags = flags
        self.payload = payload
    }
}
