/// Cuts a byte stream into frames, however the bytes arrive: one at a time or many frames at once.
///
/// Feed what was read, then call ``next()`` until it returns nil. The header is validated as soon as its
/// 20 bytes are present — an oversized length, unknown version or kind, a flag outside `acceptedFlags`,
/// or a nonzero reserved field throws before any payload is buffered — so the decoder never holds more than one maximum-size frame
/// plus the last chunk fed. After an error the decoder stays failed: every later ``next()`` rethrows it.
public struct FrameDecoder: Sendable {
    /// Largest payload accepted.
    public let maxPayload: Int
    /// ``FrameFlags`` bits a frame may carry (0: none, as a version 1 peer that negotiated nothing).
    public let acceptedFlags: UInt16

    /// Buffer capacity kept between frames.
    private static let retainedCapacity = 256 * 1024

    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var failure: WireError?

    /// Creates a decoder.
    /// - Parameters:
    ///   - maxPayload: Largest payload accepted; a header announcing more is an error.
    ///   - acceptedFlags: ``FrameFlags`` bits a frame may carry; any other bit is an error. Whether a
    ///     connection negotiated them is its owner's check.
    public init(maxPayload: Int = Frame.defaultMaxPayload, acceptedFlags: UInt16 = 0) {
        self.maxPayload = maxPayload
        self.acceptedFlags = acceptedFlags
    }

    /// Bytes fed but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Appends bytes read from the stream.
    /// - Parameter bytes: The bytes, copied.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Appends bytes read from the stream.
    /// - Parameter bytes: The bytes.
    public mutating func feed(_ bytes: some Collection<UInt8>) {
        guard !bytes.isEmpty else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Drops consumed bytes once they are a good share of the buffer, so memory stays bounded and the
    /// copying stays amortised.
    private mutating func compact() {
        guard readIndex > 0 else { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex >= 4096 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    /// The next complete frame, if the bytes fed so far hold one.
    /// - Returns: A frame, or nil when more bytes are needed.
    /// - Throws: ``WireError`` when the next header is invalid (and on every call after that).
    public mutating func next() throws -> Frame? {
        if let failure { throw failure }
        let available = buffer.count - readIndex
        guard available >= Frame.headerSize else { return nil }
        let base = readIndex
        let (length, version, kindByte, type, flags, reserved, correlation) = buffer.withUnsafeBytes { raw in
            (
                UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: base, as: UInt32.self)),
                raw[base + 4],
                raw[base + 5],
                UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: base + 6, as: UInt16.self)),
                UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: base + 8, as: UInt16.self)),
                UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: base + 10, as: UInt16.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: base + 12, as: UInt64.self))
            )
        }
        guard version == Frame.wireVersion else { return try fail(.unsupportedVersion(version)) }
        guard let kind = FrameKind(rawValue: kindByte) else { return try fail(.unknownKind(kindByte)) }
        guard flags & ~acceptedFlags == 0 else { return try fail(.nonzeroFlags(flags)) }
        guard reserved == 0 else { return try fail(.nonzeroReserved(reserved)) }
        guard Int(length) <= maxPayload else {
            return try fail(.frameTooLarge(length: UInt64(length), max: maxPayload))
        }
        let end = base + Frame.headerSize + Int(length)
        guard end <= buffer.count else { return nil }
        let payload = length == 0 ? [] : Array(buffer[(base + Frame.headerSize)..<end])
        readIndex = end
        if readIndex == buffer.count {
            // Keep a small buffer for the next frames; give back what a rare large frame grew it to.
            buffer.removeAll(keepingCapacity: buffer.capacity <= Self.retainedCapacity)
            readIndex = 0
        }
        return Frame(kind: kind, type: type, correlation: correlation, flags: flags, payload: payload)
    }

    private mutating func fail(_ error: WireError) throws -> Frame? {
        failure = error
        // The rest of the stream is meaningless now; let its memory go.
        buffer = []
        readIndex = 0
        throw error
    }
}
