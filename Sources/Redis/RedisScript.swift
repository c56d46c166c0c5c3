/// A Lua script and its SHA-1, for ``RedisClient/evaluate(_:keys:arguments:)``: EVALSHA first, the
/// whole source only when the server does not have it cached (after a restart or SCRIPT FLUSH).
///
/// Make each script once (a `static let`) and reuse it: its SHA-1 is computed here.
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String
    /// SHA-1 of the source's UTF-8, 40 lowercase hex digits: the name Redis caches it under.
    public let sha1: String

    /// A script.
    /// - Parameter source: The Lua source.
    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(source.utf8)
    }
}
