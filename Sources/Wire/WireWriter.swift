/// Appends big-endian values to a byte array: the payload side of the wire format.
///
/// Integers are big-endian; `Float`/`Double` are their IEEE-754 bit patterns; `Bool` is one byte (0 or 1);
/// strings and byte blobs are a `u32` length then the bytes; optionals a `u8` tag (0 absent, 1 present)
/// then the value; arrays a `u32` count then the elements.
public struct WireWriter: Sendable {
    /// The bytes written so far (``bytes``); internal, so that the fixed-width writes can be inlined into
    /// (and specialised by) the messages' encoders in other modules.
    @usableFromInline var buffer: [UInt8]

    /// The bytes written so far.
    @inlinable public var bytes: [UInt8] { buffer }

    /// Creates an empty writer.
    /// - Parameter capacity: Bytes to reserve up front (saves regrowth for messages of known size).
    public init(reservingCapacity capacity: Int = 64) {
        buffer = []
        buffer.reserveCapacity(capacity)
    }

    /// Number of bytes written so far.
    public var count: Int { bytes.count }

    /// Appends a big-endian integer of `T`'s width.
    @inlinable @inline(__always)
    mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    /// Writes one byte.
    public mutating func writeUInt8(_ value: UInt8) { buffer.append(value) }
    /// Writes a big-endian `u16`.
    public mutating func writeUInt16(_ value: UInt16) { writeInteger(value) }
    /// Writes a big-endian `u32`.
    public mutating func writeUInt32(_ value: UInt32) { writeInteger(value) }
    /// Writes a big-endian `u64`.
    public mutating func writeUInt64(_ value: UInt64) { writeInteger(value) }
    /// Writes a big-endian two's-complement `i32`.
    public mutating func writeInt32(_ value: Int32) { writeInteger(value) }
    /// Writes a big-endian two's-complement `i64`.
    public mutating func writeInt64(_ value: Int64) { writeInteger(value) }
    /// Writes an `f32` as its big-endian IEEE-754 bit pattern.
    public mutating func writeFloat32(_ value: Float) { writeInteger(value.bitPattern) }
    /// Writes an `f64` as its big-endian IEEE-754 bit pattern.
    public mutating func writeFloat64(_ value: Double) { writeInteger(value.bitPattern) }
    /// Writes a bool as one byte, 0 or 1.
    public mutating func writeBool(_ value: Bool) { buffer.append(value ? 1 : 0) }

    /// Writes a `u32` byte length and the UTF-8 bytes of `value`.
    public mutating func writeString(_ value: String) {
        let utf8 = value.utf8
        writeUInt32(UInt32(utf8.count))
        buffer.append(contentsOf: utf8)
    }

    /// Writes a `u32` length and the bytes.
    public mutating func writeBytes(_ value: some Collection<UInt8>) {
        writeUInt32(UInt32(value.count))
        buffer.append(contentsOf: value)
    }

    /// Writes bytes as they are, with no length prefix (for fixed-size fields and nested payloads).
    public mutating func writeRawBytes(_ value: some Collection<UInt8>) {
        buffer.append(contentsOf: value)
    }

    /// Writes a `u32` element count (for an array whose elements the caller writes next).
    public mutating func writeCount(_ count: Int) {
        writeUInt32(UInt32(count))
    }

    /// Writes a presence byte (0 or 1) and, when present, the value.
    /// - Parameters:
    ///   - value: The optional value.
    ///   - body: Writes a present value.
    public mutating func writeOptional<T>(_ value: T?, _ body: (inout WireWriter, T) -> Void) {
        if let value {
            buffer.append(1)
            body(&self, value)
        } else {
            buffer.append(0)
        }
    }

    /// Writes a `u32` count and each element.
    /// - Parameters:
    ///   - values: The elements.
    ///   - body: Writes one element.
    public mutating func writeArray<T>(_ values: [T], _ body: (inout WireWriter, T) -> Void) {
        writeCount(values.count)
        for value in values {
            body(&self, value)
        }
    }

    /// Writes a nested value by its own encoding (no length prefix).
    public mutating func write(_ value: some WireCodable) {
        value.encode(to: &self)
    }
}
