/// Payload of HELLO and HELLO_ACK: the protocol a connection speaks, and the optional features it uses.
///
/// `name string · version u16 · [features u32]`. HELLO_ACK echoes the server's (equal) name and version,
/// and — only when the HELLO offered features — the ``ProtocolFeatures`` both ends have. A HELLO without
/// the features field is byte for byte a version 1 HELLO, which any server accepts; a server from before
/// features refuses one with them (trailing bytes), and the client then greets it again without.
public struct HelloPayload: WireCodable, Hashable {
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

    /// Decodes a HELLO payload (the features field is read when present).
    public init(from reader: inout WireReader) throws {
        name = try reader.readString(maxLength: Self.maxNameLength)
        version = try reader.readUInt16()
        features = reader.isAtEnd ? nil : try reader.readUInt32()
    }

    /// Encodes a HELLO payload.
    public func encode(to writer: inout WireWriter) {
        writer.writeString(name)
        writer.writeUInt16(version)
        if let features { writer.writeUInt32(features) }
    }

    /// `name/version`, as error messages show it.
    public var label: String { "\(name)/\(version)" }
}

/// Payload of ERROR: `code u16 · message string`, then, only when refusing a HELLO (codes
/// ``IPCErrorCode/wrongProtocol`` and ``IPCErrorCode/unsupportedVersion``), the server's own
/// ``HelloPayload`` so the client can say what it reached.
public struct ErrorPayload: WireCodable, Hashable {
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

    /// Decodes an ERROR payload (the trailing server protocol is read when present).
    public init(from reader: inout WireReader) throws {
        code = try reader.readUInt16()
        message = try reader.readString(maxLength: Self.maxMessageLength)
        server = reader.isAtEnd ? nil : try HelloPayload(from: &reader)
    }

    /// Encodes an ERROR payload; messages longer than the limit are cut at a character boundary.
    public func encode(to writer: inout WireWriter) {
        writer.writeUInt16(code)
        writer.writeString(Self.truncated(message))
        if let server { server.encode(to: &writer) }
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
