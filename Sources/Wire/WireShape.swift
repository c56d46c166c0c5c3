/// How one field is laid out on the wire, and its limits: the type ``WireFields/visitFields(_:)`` names
/// for each field (`.uint32`, `.string(maxLength: 512)`, `.array(.float32, maxCount: 4096)`, ...).
///
/// A shape reads and writes one value; containers (`.optional`, `.trailing`, `.array`) are shapes built
/// from the shape of what they hold. The layouts are docs/PROTOCOL.md's "Payload encoding".
public protocol WireShape: Sendable {
    /// The Swift type of the field.
    associatedtype Value

    /// Reads one value.
    /// - Throws: ``WireError`` on truncated or invalid input; lengths and counts are checked against
    ///   their maximum and what remains before anything is allocated.
    func read(from reader: inout WireReader) throws -> Value

    /// Appends one value.
    func write(_ value: Value, to writer: inout WireWriter)
}

/// A value of fixed width carried as its bits, big-endian: the integers, `f32`/`f64` (IEEE-754 bit
/// patterns) and `bool` (one byte, 0 or 1).
public protocol WireScalar: Sendable {
    /// The integer the value travels as.
    associatedtype Bits: FixedWidthInteger & Sendable
    /// What errors call it (`u32`, `f32`, `bool`).
    static var wireName: String { get }
    /// The value of `bits`.
    /// - Throws: ``WireError`` when no value has those bits (a bool byte other than 0 or 1).
    init(wireBits bits: Bits) throws
    /// The bits of the value.
    var wireBits: Bits { get }
}

extension WireScalar where Self: FixedWidthInteger, Bits == Self {
    @inlinable public init(wireBits bits: Self) { self = bits }
    @inlinable public var wireBits: Self { self }
}

extension UInt8: WireScalar { @inlinable public static var wireName: String { "u8" } }
extension UInt16: WireScalar { @inlinable public static var wireName: String { "u16" } }
extension UInt32: WireScalar { @inlinable public static var wireName: String { "u32" } }
extension UInt64: WireScalar { @inlinable public static var wireName: String { "u64" } }
extension Int32: WireScalar { @inlinable public static var wireName: String { "i32" } }
extension Int64: WireScalar { @inlinable public static var wireName: String { "i64" } }

extension Float: WireScalar {
    @inlinable public static var wireName: String { "f32" }
    @inlinable public init(wireBits bits: UInt32) { self.init(bitPattern: bits) }
    @inlinable public var wireBits: UInt32 { bitPattern }
}

extension Double: WireScalar {
    @inlinable public static var wireName: String { "f64" }
    @inlinable public init(wireBits bits: UInt64) { self.init(bitPattern: bits) }
    @inlinable public var wireBits: UInt64 { bitPattern }
}

extension Bool: WireScalar {
    @inlinable public static var wireName: String { "bool" }
    @inlinable
    public init(wireBits bits: UInt8) throws {
        switch bits {
        case 0: self = false
        case 1: self = true
        default: throw WireError.invalidValue("bool value", UInt64(bits))
        }
    }
    @inlinable public var wireBits: UInt8 { self ? 1 : 0 }
}

/// A ``WireScalar``: `u8` … `u64`, `i32`, `i64`, `f32`, `f64`, `bool`.
@frozen
public struct WireFixed<Value: WireScalar>: WireShape {
    @inlinable public init() {}

    @inlinable
    public func read(from reader: inout WireReader) throws -> Value {
        try Value(wireBits: reader.readInteger(Value.wireName, as: Value.Bits.self))
    }

    @inlinable public func write(_ value: Value, to writer: inout WireWriter) { writer.writeInteger(value.wireBits) }
}

/// A `u32` byte length, then that many bytes of UTF-8.
@frozen
public struct WireString: WireShape {
    /// Longest byte length a reader accepts.
    public let maxLength: Int

    @inlinable public init(maxLength: Int) { self.maxLength = maxLength }
    @inlinable public func read(from reader: inout WireReader) throws -> String { try reader.readString(maxLength: maxLength) }
    @inlinable public func write(_ value: String, to writer: inout WireWriter) { writer.writeString(value) }
}

/// A `u32` length, then that many bytes.
@frozen
public struct WireBytes: WireShape {
    /// Longest length a reader accepts.
    public let maxLength: Int

    @inlinable public init(maxLength: Int) { self.maxLength = maxLength }
    @inlinable public func read(from reader: inout WireReader) throws -> [UInt8] { try reader.readBytes(maxLength: maxLength) }
    @inlinable public func write(_ value: [UInt8], to writer: inout WireWriter) { writer.writeBytes(value) }
}

/// A value that may be absent: a `u8` tag, 0 absent or 1 present, then the value when present; or, for a
/// field added at the end of a message after the fact (``Presence/trailing``), the value alone, written
/// only when present and read only when bytes remain, so that the older message (without it) is still
/// the same bytes and still accepted.
@frozen
public struct WireOptional<Wrapped: WireShape>: WireShape {
    /// How a reader tells whether the value is there.
    public enum Presence: Sendable {
        /// A `u8` tag before it.
        case tag
        /// Whether bytes remain: the message's last field only.
        case trailing
    }

    /// The present value's shape.
    public let wrapped: Wrapped
    public let presence: Presence

    @inlinable
    public init(wrapped: Wrapped, presence: Presence) {
        self.wrapped = wrapped
        self.presence = presence
    }

    @inlinable
    public func read(from reader: inout WireReader) throws -> Wrapped.Value? {
        if presence == .trailing { return reader.isAtEnd ? nil : try wrapped.read(from: &reader) }
        let tag = try reader.readInteger("optional tag", as: UInt8.self)
        switch tag {
        case 0: return nil
        case 1: return try wrapped.read(from: &reader)
        default: throw WireError.invalidValue("optional tag", UInt64(tag))
        }
    }

    @inlinable
    public func write(_ value: Wrapped.Value?, to writer: inout WireWriter) {
        if presence == .tag { writer.writeUInt8(value == nil ? 0 : 1) }
        if let value { wrapped.write(value, to: &writer) }
    }
}

/// A `u32` count, then that many elements.
@frozen
public struct WireArray<Element: WireShape>: WireShape {
    /// Each element's shape.
    public let element: Element
    /// Largest count a reader accepts.
    public let maxCount: Int
    /// Smallest encoding of one element: a reader refuses a count that cannot fit in what remains
    /// before it reserves room for it.
    public let minElementSize: Int

    @inlinable
    public init(element: Element, maxCount: Int, minElementSize: Int) {
        self.element = element
        self.maxCount = maxCount
        self.minElementSize = minElementSize
    }

    @inlinable
    public func read(from reader: inout WireReader) throws -> [Element.Value] {
        let count = try reader.readCount(maxCount: maxCount, minElementSize: minElementSize)
        var values: [Element.Value] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            values.append(try element.read(from: &reader))
        }
        return values
    }

    @inlinable
    public func write(_ values: [Element.Value], to writer: inout WireWriter) {
        writer.writeCount(values.count)
        for value in values {
            element.write(value, to: &writer)
        }
    }
}

/// A value with a codec of its own (a nested ``WireFields`` struct, or any ``WireCodable``), with no
/// length prefix.
@frozen
public struct WireNested<Value: WireCodable>: WireShape {
    @inlinable public init() {}
    @inlinable public func read(from reader: inout WireReader) throws -> Value { try Value(from: &reader) }
    @inlinable public func write(_ value: Value, to writer: inout WireWriter) { value.encode(to: &writer) }
}

/// An enumeration by its integer raw value, laid out as that integer; a value with no case is refused.
@frozen
public struct WireRawValue<Value: RawRepresentable & Sendable>: WireShape
where Value.RawValue: WireScalar & FixedWidthInteger {
    /// What the error calls a value with no case (`outcome`).
    public let name: String

    @inlinable public init(name: String) { self.name = name }

    @inlinable
    public func read(from reader: inout WireReader) throws -> Value {
        let raw = try WireFixed<Value.RawValue>().read(from: &reader)
        guard let value = Value(rawValue: raw) else { throw WireError.invalidValue(name, UInt64(truncatingIfNeeded: raw)) }
        return value
    }

    @inlinable
    public func write(_ value: Value, to writer: inout WireWriter) { WireFixed<Value.RawValue>().write(value.rawValue, to: &writer) }
}

// The names a field's layout is written with: `.uint32`, `.string(maxLength: 512)`, `.array(...)`.

extension WireShape where Self == WireFixed<UInt8> { @inlinable public static var uint8: Self { Self() } }
extension WireShape where Self == WireFixed<UInt16> { @inlinable public static var uint16: Self { Self() } }
extension WireShape where Self == WireFixed<UInt32> { @inlinable public static var uint32: Self { Self() } }
extension WireShape where Self == WireFixed<UInt64> { @inlinable public static var uint64: Self { Self() } }
extension WireShape where Self == WireFixed<Int32> { @inlinable public static var int32: Self { Self() } }
extension WireShape where Self == WireFixed<Int64> { @inlinable public static var int64: Self { Self() } }
extension WireShape where Self == WireFixed<Float> { @inlinable public static var float32: Self { Self() } }
extension WireShape where Self == WireFixed<Double> { @inlinable public static var float64: Self { Self() } }
extension WireShape where Self == WireFixed<Bool> { @inlinable public static var bool: Self { Self() } }

extension WireShape where Self == WireString {
    /// A string of at most `maxLength` bytes (the frame payload limit by default).
    @inlinable
    public static func string(maxLength: Int = WireReader.defaultMaxLength) -> Self { Self(maxLength: maxLength) }
}

extension WireShape where Self == WireBytes {
    /// A byte blob of at most `maxLength` bytes (the frame payload limit by default).
    @inlinable
    public static func bytes(maxLength: Int = WireReader.defaultMaxLength) -> Self { Self(maxLength: maxLength) }
}

extension WireShape {
    /// A value that may be absent: a presence byte, then the value.
    @inlinable
    public static func optional<Wrapped>(_ wrapped: Wrapped) -> Self where Self == WireOptional<Wrapped> {
        Self(wrapped: wrapped, presence: .tag)
    }

    /// A count, then each element; see ``WireArray`` for `minElementSize`.
    @inlinable
    public static func array<Element>(_ element: Element, maxCount: Int, minElementSize: Int = 1) -> Self
    where Self == WireArray<Element> {
        Self(element: element, maxCount: maxCount, minElementSize: minElementSize)
    }

    /// A value by its own codec.
    @inlinable
    public static func nested<Value>(_: Value.Type) -> Self where Self == WireNested<Value> { Self() }

    /// An optional value added at the end of a message (see ``WireOptional/Presence/trailing``).
    @inlinable
    public static func trailing<Wrapped>(_ wrapped: Wrapped) -> Self where Self == WireOptional<Wrapped> {
        Self(wrapped: wrapped, presence: .trailing)
    }

    /// An enumeration by its raw value; `name` is what an error calls a value with no case.
    @inlinable
    public static func rawValue<Value>(_: Value.Type, name: String) -> Self where Self == WireRawValue<Value> {
        Self(name: name)
    }
}
