/// What ``WireFields/visitFields(_:)`` hands each field to: a ``WireReader`` (decoding: the field is
/// overwritten with what the payload holds) or a ``WireWriter`` (encoding: the field is appended).
public protocol WireFieldVisitor {
    /// What visiting may throw: ``WireError`` (as `any Error`) for a reader, `Never` for a writer.
    associatedtype Failure: Error

    /// Reads `value` or writes it, laid out as `shape` says.
    mutating func field<S: WireShape>(_ value: inout S.Value, _ shape: S) throws(Failure)
}

extension WireReader: WireFieldVisitor {
    public typealias Failure = any Error

    /// Replaces `value` with the next field of the payload.
    /// - Throws: ``WireError`` on truncated or invalid input (limits are checked before allocation).
    @inlinable
    public mutating func field<S: WireShape>(_ value: inout S.Value, _ shape: S) throws {
        value = try shape.read(from: &self)
    }
}

extension WireWriter: WireFieldVisitor {
    public typealias Failure = Never

    /// Appends `value`.
    @inlinable
    public mutating func field<S: WireShape>(_ value: inout S.Value, _ shape: S) {
        shape.write(value, to: &self)
    }
}
