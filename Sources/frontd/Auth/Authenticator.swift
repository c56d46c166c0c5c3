import APIKeys
import Crypto
import FoundationEssentials
import Services
import DaemonRuntime
import HTTP
import IPC

/// Checks a request's API key against a route's `Access`.
///
/// `Authorization: Bearer <key>`: the key is hashed with SHA-256 and compared with every key of the
/// keys file in constant time (`ConstantTime.equals`, over all entries, without stopping at a match), so
/// neither where a guess differs nor which entry matched shows in the time taken. A missing, malformed
/// or unknown key is a 401 `invalid_api_key` with `WWW-Authenticate: Bearer`, an expired one a 401
/// `expired_api_key` on every route that takes a key (checked here, before any route runs, by the wall
/// clock at each request); a valid key without the route's scope is a 403 naming the scope. The original API's default token `changeme` is refused whatever the file says.
struct Authenticator: Sendable {
    /// The keys in force; nil when authentication is off (`AUTH_DISABLED=true`).
    let keyRing: KeyRing?

    /// Longest credential looked at; a longer one is refused without hashing it.
    static let maxKeyBytes = 1024

    /// The authenticator frontd's settings ask for: `AUTH_DISABLED`, `API_KEYS_FILE`.
    init(context: DaemonContext) throws {
        if context.settings[FrontSettings.authDisabled] {
            context.logger.warn("AUTHENTICATION IS DISABLED (AUTH_DISABLED=true): every route is open to anyone who can reach "
                + "frontd, and rate limits apply per client address; use this only on a development machine")
            keyRing = nil
        } else {
            keyRing = KeyRing(path: context.settings[FrontSettings.apiKeysFile], logger: context.logger)
        }
    }

    /// An authenticator over `keyRing`, or one that lets everything through when it is nil.
    init(keyRing: KeyRing?) {
        self.keyRing = keyRing
    }

    /// The caller, or nil on routes that need none (and when authentication is off); throws 401 or 403
    /// as an `APIError`.
    func authenticate(_ request: HTTPRequest, access: Access) throws -> Principal? {
        let needed: Scope?
        switch access {
        case .open, .signed: return nil
        case .anyKey: needed = nil
        case .scope(let scope): needed = scope
        }
        guard let keyRing else { return nil }
        let key = try Self.presentedKey(request.headers.values(for: "Authorization"))
        guard let entry = Self.match(key, in: keyRing.keys()) else {
            throw APIError.unauthorized("invalid API key")
        }
        if entry.isExpired(now: Int64(Date().timeIntervalSince1970)) {
            throw APIError.unauthorized("this API key expired (inferctl keys update \(entry.name) --expires ... extends it)",
                                        code: "expired_api_key")
        }
        if let needed, !entry.scopes.contains(needed) {
            throw APIError.forbidden("this API key does not have the \"\(needed.rawValue)\" scope, which this route needs")
        }
        return Principal(entry)
    }

    /// The key of the one `Authorization: Bearer <key>` header (the scheme in any case, RFC 7235).
    /// - Throws: 401 when there is none, more than one, another scheme, or an empty or oversized key.
    static func presentedKey(_ headers: [String]) throws -> [UInt8] {
        guard !headers.isEmpty else {
            throw APIError.unauthorized("missing API key: send the header Authorization: Bearer <key>")
        }
        guard headers.count == 1 else { throw APIError.unauthorized("more than one Authorization header") }
        let value = headers[0].utf8
        let scheme = value.prefix { $0 != UInt8(ascii: " ") }
        guard String(decoding: scheme, as: UTF8.self).lowercased() == "bearer" else {
            throw APIError.unauthorized("expected Authorization: Bearer <key>")
        }
        let key = value.dropFirst(scheme.count).drop { $0 == UInt8(ascii: " ") }
        guard !key.isEmpty else { throw APIError.unauthorized("expected Authorization: Bearer <key>") }
        guard key.count <= maxKeyBytes, !key.contains(UInt8(ascii: " ")) else {
            throw APIError.unauthorized("invalid API key")
        }
        if key.elementsEqual(APIKeySecret.defaultToken.utf8) {
            // Public, so not a secret comparison: the original API's default token is refused by name.
            throw APIError.unauthorized("the default token \"\(APIKeySecret.defaultToken)\" is never accepted; "
                + "use a key made with inferctl keys create")
        }
        return Array(key)
    }

    /// The entry whose hash is the key's, comparing with every entry in constant time.
    static func match(_ key: [UInt8], in keys: [APIKeyEntry]) -> APIKeyEntry? {
        let digest = APIKeySecret.digest(key)
        // Belt and braces: the file reader already rejects this hash.
        if ConstantTime.equals(digest, APIKeySecret.defaultTokenDigest) { return nil }
        var found: APIKeyEntry?
        for entry in keys where ConstantTime.equals(digest, entry.digest) {
            found = entry
        }
        return found
    }
}

extension Principal {
    /// The caller of a key-file entry, with its limits and budget as limitd takes them.
    init(_ entry: APIKeyEntry) {
        self.init(name: entry.name, id: entry.id, scopes: entry.scopes, requestsPerMinute: entry.requestsPerMinute)
        limits = entry.limits
        modelLimits = entry.modelLimits
        budget = LimitProtocol.Budget(maxNanoUSD: entry.maxBudget.map(NanoUSD.rounded) ?? 0,
                                      period: entry.budgetDuration?.description ?? "", anchor: entry.created ?? 0)
        models = entry.models
    }
}
