extension Array where Element == UInt8 {
    /// Appends `value`'s bytes, least significant first: the snapshot's and the Redis entries' byte order.
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { self.append(contentsOf: $0) }
    }
}

/// Reads little-endian integers and byte runs from a byte array, never past `end`: every read returns
/// nil rather than run off what is there.
struct ByteReader {
    let bytes: [UInt8]
    /// The next byte to read.
    private(set) var offset: Int
    /// One past the last byte readable.
    let end: Int

    init(_ bytes: [UInt8], from offset: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    /// Bytes left to read.
    var remaining: Int { end - offset }

    /// The next integer, or nil when fewer bytes are left than it takes.
    mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        guard remaining >= MemoryLayout<T>.size else { return nil }
        let value = bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        offset += MemoryLayout<T>.size
        return value
    }

    /// The next `count` bytes, or nil when fewer are left.
    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// `count` floats (their IEEE bit patterns), or nil when fewer bytes are left.
    mutating func floats(_ count: Int) -> [Float]? {
        guard count >= 0, remaining >= 4 * count else { return nil }
        var vector: [Float] = []
        vector.reserveCapacity(count)
        for _ in 0..<count { vector.append(Float(bitPattern: integer(UInt32.self) ?? 0)) }
        return vector
    }
}
