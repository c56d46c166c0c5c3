/// Writes frames as bytes: the 20-byte header, then the payload.
public enum FrameEncoder {
    /// Encodes one frame.
    /// - Parameter frame: The frame.
    /// - Returns: Header and payload bytes.
    public static func encode(_ frame: Frame) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Frame.headerSize + frame.payload.count)
        append(frame, to: &bytes)
        return bytes
    }

    /// Appends one frame to a buffer (no intermediate array).
    /// - Parameters:
    ///   - frame: The frame.
    ///   - buffer: Where the bytes go.
    public static func append(_ frame: Frame, to buffer: inout [UInt8]) {
        appendHeader(
            kind: frame.kind, type: frame.type, correlation: frame.correlation, flags: frame.flags,
            payloadLength: frame.payload.count, to: &buffer)
        buffer.append(contentsOf: frame.payload)
    }

    /// Appends a frame header; the caller appends exactly `payloadLength` payload bytes next.
    /// - Parameters:
    ///   - kind: Frame kind.
    ///   - type: Message type.
    ///   - correlation: Call id.
    ///   - flags: ``FrameFlags`` bits (0 unless the connection negotiated them).
    ///   - payloadLength: Payload bytes that will follow.
    ///   - buffer: Where the bytes go.
    public static func appendHeader(
        kind: FrameKind, type: UInt16, correlation: UInt64, flags: UInt16 = 0, payloadLength: Int,
        to buffer: inout [UInt8]
    ) {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: Frame.headerSize))
        buffer.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(payloadLength).bigEndian, toByteOffset: start, as: UInt32.self)
            raw[start + 4] = Frame.wireVersion
            raw[start + 5] = kind.rawValue
            raw.storeBytes(of: type.bigEndian, toByteOffset: start + 6, as: UInt16.self)
            raw.storeBytes(of: flags.bigEndian, toByteOffset: start + 8, as: UInt16.self)
            // reserved (start + 10) stays zero.
            raw.storeBytes(of: correlation.bigEndian, toByteOffset: start + 12, as: UInt64.self)
        }
    }
}
