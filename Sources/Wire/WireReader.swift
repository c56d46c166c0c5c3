/// Reads big-endian values from a payload, throwing ``WireError`` on truncated or invalid input.
///
/// The counterpart of ``WireWriter``. Every read checks the bytes that remain first; lengths and counts
/// are checked against both a maximum and what remains before anything is allocated, so a hostile payload
/// can neither trap nor make the reader allocate more than the payload's own size.
public struct WireReader: Sendable {
    /// Default cap on string and byte-blob lengths: the default frame payload limit.
    public static let defaultMaxLength = Frame.defaultMaxPayload

    @usableFromInline let bytes: [UInt8]
    /// Index of the next byte to read (``offset``); internal, so that the fixed-width reads can be inlined
    /// into (and specialised by) the messages' decoders in other modules.
    @usableFromInline var position: Int

    /// Index of the next byte to read.
    @inlinable public var offset: Int { position }

    /// Creates a reader over a payload.
    /// - Parameter bytes: The payload.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.position = 0
    }

    /// Bytes not read yet.
    @inlinable public var remaining: Int { bytes.count - position }

    /// Whether every byte has been read.
    @inlinable public var isAtEnd: Bool { position == bytes.count }

    /// Reads a big-endian integer of `T`'s width; `what` names it in a truncation error (`u32`).
    @inlinable @inline(__always)
    mutating func readInteger<T: FixedWidthInteger>(_ what: String, as _: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw WireError.truncated(what, offset: position, needed: size, remaining: remaining)
        }
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: T.self) }
        position += size
        return T(bigEndian: value)
    }

    /// Reads one byte.
    /// - Throws: ``WireError`` when no byte remains.
    public mutating func readUInt8() throws -> UInt8 { try readInteger("u8", as: UInt8.self) }
    /// Reads a big-endian `u16`.
    /// - Throws: ``WireError`` when fewer than 2 bytes remain.
    public mutating func readUInt16() throws -> UInt16 { try readInteger("u16", as: UInt16.self) }
    /// Reads a big-endian `u32`.
    /// - Throws: ``WireError`` when fewer than 4 bytes remain.
    public mutating func readUInt32() throws -> UInt32 { try readInteger("u32", as: UInt32.self) }
    /// Reads a big-endian `u64`.
    /// - Throws: ``WireError`` when fewer than 8 bytes remain.
    public mutating func readUInt64() throws -> UInt64 { try readInteger("u64", as: UInt64.self) }
    /// Reads a big-endian `i32`.
    /// - Throws: ``WireError`` when fewer than 4 bytes remain.
    public mutating func readInt32() throws -> Int32 { try readInteger("i32", as: Int32.self) }
    /// Reads a big-endian `i64`.
    /// - Throws: ``WireError`` when fewer than 8 bytes remain.
    public mutating func readInt64() throws -> Int64 { try readInteger("i64", as: Int64.self) }

    /// Reads an `f32` from its big-endian bit pattern.
    /// - Throws: ``WireError`` when fewer than 4 bytes remain.
    public mutating func readFloat32() throws -> Float {
        Float(bitPattern: try readInteger("f32", as: UInt32.self))
    }

    /// Reads an `f64` from its big-endian bit pattern.
    /// - Throws: ``WireError`` when fewer than 8 bytes remain.
    public mutating func readFloat64() throws -> Double {
        Double(bitPattern: try readInteger("f64", as: UInt64.self))
    }

    /// Reads a bool byte.
    /// - Throws: ``WireError`` when truncated or when the byte is neither 0 nor 1.
    public mutating func readBool() throws -> Bool {
        let byte = try readInteger("bool", as: UInt8.self)
        switch byte {
        case 0: return false
        case 1: return true
        default: throw WireError.invalidValue("bool value", UInt64(byte))
        }
    }

    /// Reads a `u32`-length-prefixed span, checked against `maxLength` and the bytes remaining.
    private mutating func readLengthPrefixed(_ what: String, maxLength: Int) throws -> Range<Int> {
        let length = try readUInt32()
        guard Int(length) <= maxLength else {
            position -= 4
            throw WireError.lengthExceedsMaximum("\(what) length", length: UInt64(length), maximum: maxLength)
        }
        guard Int(length) <= remaining else {
            let remainingAfterPrefix = remaining
            position -= 4
            throw WireError.lengthExceedsRemaining(
                "\(what) length", length: UInt64(length), remaining: remainingAfterPrefix)
        }
        let range = offset..<(offset + Int(length))
        position += Int(length)
        return range
    }

    /// Reads a `u32` byte length and that many bytes of UTF-8.
    /// - Parameter maxLength: Largest byte length accepted.
    /// - Returns: The decoded string.
    /// - Throws: ``WireError`` when the length exceeds `maxLength` or what remains, or the bytes are not UTF-8.
    public mutating func readString(maxLength: Int = WireReader.defaultMaxLength) throws -> String {
        let range = try readLengthPrefixed("string", maxLength: maxLength)
        let decoded = bytes.withUnsafeBufferPointer { buffer in
            String(validating: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
        }
        guard let decoded else {
            throw WireError.invalidUTF8(offset: range.lowerBound, length: range.count)
        }
        return decoded
    }

    /// Reads a `u32` length and that many bytes.
    /// - Parameter maxLength: Largest length accepted.
    /// - Returns: The bytes.
    /// - Throws: ``WireError`` when the length exceeds `maxLength` or what remains.
    public mutating func readBytes(maxLength: Int = WireReader.defaultMaxLength) throws -> [UInt8] {
        let range = try readLengthPrefixed("bytes", maxLength: maxLength)
        return Array(bytes[range])
    }

    /// Reads exactly `count` bytes with no length prefix.
    /// - Throws: ``WireError`` when fewer remain.
    public mutating func readRawBytes(count: Int) throws -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw WireError.truncated("\(count) raw bytes", offset: offset, needed: count, remaining: remaining)
        }
        defer { position += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Reads the rest of the payload.
    public mutating func readRemainingBytes() -> [UInt8] {
        defer { position = bytes.count }
        return Array(bytes[offset...])
    }

    /// Reads a `u32` element count, checked so that allocating `count` elements is safe.
    /// - Parameters:
    ///   - maxCount: Largest count accepted.
    ///   - minElementSize: Smallest encoded size of one element; the count must fit in what remains.
    /// - Returns: The count.
    /// - Throws: ``WireError`` when the count exceeds `maxCount` or cannot fit in the remaining bytes.
    public mutating func readCount(maxCount: Int, minElementSize: Int = 1) throws -> Int {
        let count = try readUInt32()
        guard Int(count) <= maxCount else {
            position -= 4
            throw WireError.lengthExceedsMaximum("element count", length: UInt64(count), maximum: maxCount)
        }
        if minElementSize > 0 {
            let (needed, overflow) = Int(count).multipliedReportingOverflow(by: minElementSize)
            guard !overflow, needed <= remaining else {
                let remainingAfterPrefix = remaining
                position -= 4
                throw WireError.invalid(
                    "element count \(count) (at least \(minElementSize) bytes each) exceeds remaining \(remainingAfterPrefix) bytes")
            }
        }
        return Int(count)
    }

    /// Reads a presence byte and, when it is 1, the value.
    /// - Parameter body: Reads a present value.
    /// - Returns: The value, or nil when absent.
    /// - Throws: ``WireError`` when the tag is neither 0 nor 1, or whatever `body` throws.
    public mutating func readOptional<T>(_ body: (inout WireReader) throws -> T) throws -> T? {
        let tag = try readInteger("optional tag", as: UInt8.self)
        switch tag {
        case 0: return nil
        case 1: return try body(&self)
        default: throw WireError.invalidValue("optional tag", UInt64(tag))
        }
    }

    /// Reads a `u32` count and that many elements.
    /// - Parameters:
    ///   - maxCount: Largest count accepted.
    ///   - minElementSize: Smallest encoded size of one element (see ``readCount(maxCount:minElementSize:)``).
    ///   - body: Reads one element.
    /// - Returns: The elements.
    /// - Throws: ``WireError`` on a bad count, or whatever `body` throws.
    public mutating func readArray<T>(
        maxCount: Int, minElementSize: Int = 1, _ body: (inout WireReader) throws -> T
    ) throws -> [T] {
        let count = try readCount(maxCount: maxCount, minElementSize: minElementSize)
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            values.append(try body(&self))
        }
        return values
    }

    /// Reads a nested value by its own decoding.
    /// - Throws: Whatever the value's decoder throws.
    public mutating func read<T: WireCodable>(_: T.Type) throws -> T {
        try T(from: &self)
    }

    /// Checks that every byte has been read.
    /// - Throws: ``WireError`` naming how many bytes are left over.
    public func expectEnd() throws {
        guard isAtEnd else { throw WireError.trailingBytes(count: remaining) }
    }
}
