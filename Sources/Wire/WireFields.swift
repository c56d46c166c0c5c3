/// A value whose encoding is its fields in order, each with its ``WireShape``: most service messages.
///
/// The type lists its fields once, in ``visitFields(_:)``; decoding (``WireReader``) and encoding
/// (``WireWriter``) both walk that one list, so the two can never disagree:
///
/// ```swift
/// public struct Admit: WireMessage, WireFields {
///     public static let type: UInt16 = 1
///     public var key = ""
///     public var requestsPerMinute: UInt32 = 0
///     public init() {}
///     public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
///         try v.field(&key, .string(maxLength: 512))
///         try v.field(&requestsPerMinute, .uint32)
///     }
/// }
/// ```
///
/// Decoding starts from ``init()`` and overwrites every field; encoding visits a copy of the value
/// (a copy of a struct: strings and arrays are shared, not duplicated).
public protocol WireFields: WireCodable {
    /// A value to decode into; every field is overwritten, so any value will do (the defaults).
    init()

    /// Hands each field, in wire order, to `visitor` with its shape.
    /// - Throws: What the visitor throws: ``WireError`` from a ``WireReader``; a ``WireWriter`` never throws.
    mutating func visitFields<V: WireFieldVisitor>(_ visitor: inout V) throws(V.Failure)
}

extension WireFields {
    /// Decodes the fields in the order ``visitFields(_:)`` gives them.
    /// - Throws: ``WireError`` on truncated or invalid input.
    @inlinable
    public init(from reader: inout WireReader) throws {
        self.init()
        try visitFields(&reader)
    }

    /// Encodes the fields in the order ``visitFields(_:)`` gives them.
    @inlinable
    public func encode(to writer: inout WireWriter) {
        var fields = self
        fields.visitFields(&writer)
    }
}
