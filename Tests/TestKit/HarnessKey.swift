import APIKeys

/// An API key a test stack gets, made with the built `inferctl keys create`.
public struct HarnessKey: Sendable {
    /// The key's name in the keys file.
    public var name: String
    /// Its scopes, comma-separated as `inferctl keys create --scopes` takes them.
    public var scopes: String
    /// Requests per minute (0: limitd's default).
    public var rpm: Int = 0
    /// A fixed key for tests whose requests are built before the stack starts (byte tables); nil makes
    /// a random one with `inferctl keys create`.
    public var secret: String? = nil
    /// More flags of `inferctl keys create` (`--tpm 1000`, `--max-budget 0.05`, ...).
    public var flags: [String] = []

    /// A key named `name` with `scopes` (comma-separated), `rpm` requests per minute and, when given, a
    /// fixed `secret`.
    public init(name: String, scopes: String, rpm: Int = 0, secret: String? = nil, flags: [String] = []) {
        self.name = name
        self.scopes = scopes
        self.rpm = rpm
        self.secret = secret
        self.flags = flags
    }

    /// A key whose secret is `secret` itself (also its name), with every scope and no rate limit in the way.
    public static func fixed(_ secret: String) -> HarnessKey {
        HarnessKey(name: secret, scopes: "infer,embed,admin", rpm: Int(APIKeyEntry.maxRequestsPerMinute), secret: secret)
    }

    /// What the real-daemon tests use: three ordinary keys, and one that rate limits never stop.
    public static let standard = [
        HarnessKey(name: "alpha", scopes: "infer,embed"), HarnessKey(name: "beta", scopes: "infer,embed"),
        HarnessKey(name: "gamma", scopes: "infer,embed"), HarnessKey(name: "unlimited", scopes: "infer,embed,admin", rpm: 1_000_000),
    ]
}
