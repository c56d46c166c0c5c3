/// The bearer token the gateway presents to its upstream (`Authorization: Bearer …`).
///
/// A value that does not tell its secret: `description`, `debugDescription`, `dump` and string
/// interpolation all show `<redacted>`, so an endpoint or a key can be logged without leaking it.
public struct UpstreamAPIKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The token itself; only the client reads it, to build the `Authorization` header.
    let secret: String

    /// The longest token accepted; real keys are well under 200 characters.
    static let maximumLength = 4096

    /// Wraps a token.
    /// - Parameter secret: the token, as the upstream issued it (without `Bearer `).
    /// - Throws: ``UpstreamConfigurationError`` when it is empty, longer than 4096 characters, or has
    ///   a character that cannot go in an HTTP header (only visible ASCII is allowed).
    public init(_ secret: String) throws(UpstreamConfigurationError) {
        guard !secret.isEmpty else { throw UpstreamConfigurationError("API key", "is empty") }
        guard secret.utf8.count <= Self.maximumLength else {
            throw UpstreamConfigurationError("API key", "is longer than \(Self.maximumLength) bytes")
        }
        // Visible ASCII only: anything else could split or corrupt the header line.
        guard secret.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw UpstreamConfigurationError("API key", "has a character other than visible ASCII")
        }
        self.secret = secret
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "UpstreamAPIKey(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
