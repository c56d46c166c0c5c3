/// Payload of HELLO and HELLO_ACK: the protocol a connection speaks, and the optional features it uses.
///
/// `name string · version u16 · [features u32]`. HELLO_ACK echoes the server's (equal) name and version,
/// and — only when the HELLO offered features — the ``ProtocolFeatures`` both ends have. A HELLO without
/// the features field is byte for byte a version 1 HELLO, which any server accepts; a server from before
/// features refuses one with them (trailing bytes), and the client then greets it again without.
public struct HelloPayload: WireFields, Hashable {
    /// Longest protocol name accepted.
    public static let maxNameLength = 256

    /// Protocol name, e.g. `infer.limitd`.
    public var name: String
    /// Version of that protocol.
    public var version: UInt16
    /// ``ProtocolFeatures`` bits offered (HELLO) or agreed (HELLO_ACK); nil: the field is absent.
    public var features: UInt32?

    /// Creates a HELLO payload.
    public init(name: String, version: UInt16, features: UInt32? = nil) {
        self.name = name
        self.version = version
        self.features = features
    }

    /// An empty HELLO, to decode into.
    public init() { self.init(name: "", version: 0) }

    /// The fields in order; the features field is written and read only when present.
    public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&name, .string(maxLength: Self.maxNameLength))
        try v.field(&version, .uint16)
        try v.field(&features, .trailing(.uint32))
    }

    /// `name/version`, as error messages show it.
    public var label: String { "\(name)/\(version)" }
}

/// Payload of ERROR: `code u16 · message string`, then, only when refusing a HELLO (codes
/// ``IPCErrorCode/wrongProtocol`` and ``IPCErrorCode/unsupportedVersion``), the server's own
/// ``HelloPayload`` so the client can say what it reached.
public struct ErrorPayload: WireFields, Hashable {
    /// Longest message accepted.
    public static let maxMessageLength = 64 * 1024

    /// Error code (``IPCErrorCode`` or a service's own).
    public var code: UInt16
    /// Human-readable message.
    public var message: String
    /// The server's protocol, on a refused HELLO.
    public var server: HelloPayload?

    /// Creates an ERROR payload.
    public init(code: UInt16, message: String, server: HelloPayload? = nil) {
        self.code = code
        self.message = message
        self.server = server
    }

    /// An empty ERROR, to decode into.
    public init() { self.init(code: 0, message: "") }

    /// The fields in order; the server's protocol is written and read only when present.
    public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&code, .uint16)
        try v.field(&message, .string(maxLength: Self.maxMessageLength))
        try v.field(&server, .trailing(.nested(HelloPayload.self)))
    }

    /// Encodes an ERROR payload; messages longer than the limit are cut at a character boundary.
    public func encode(to writer: inout WireWriter) {
        var fields = self
        fields.message = Self.truncated(message)
        fields.visitFields(&writer)
    }

    private static func truncated(_ message: String) -> String {
        guard message.utf8.count > maxMessageLength else { return message }
        // A scalar cut in half decodes as U+FFFD (3 bytes), so leave room for one.
        return String(decoding: message.utf8.prefix(maxMessageLength - 3), as: UTF8.self)
    }
}

/// The prefix of every REQUEST payload: the caller's timeout in milliseconds (0: none).
///
/// The server turns it into ``IPCCall/deadline`` on arrival; relative time needs no shared clock.
package enum RequestPrefix {
    /// Bytes of the prefix.
    package static let size = 4
}
