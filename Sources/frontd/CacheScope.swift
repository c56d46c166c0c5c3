/// Whose cached answers a request may read and write (CACHE_SCOPE). Every exact and semantic cache key
/// starts with the scope, so entries of different scopes can never be confused.
enum CacheScope: String, CaseIterable, Sendable {
    /// Each API key has its own entries (the default): one key never reads another's answer. A request's
    /// `cache.namespace` partitions its key's entries further.
    case key
    /// A request naming `cache.namespace` shares that namespace with every key that names it (a team's
    /// keys); a request naming none is scoped to its key.
    case namespace
    /// Every key shares one cache (namespaces still partition it). Only for a single-tenant stack.
    case global

    /// Whether `name` may name a namespace: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
    static func isValidNamespace(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { $0.isASCIILetterOrDigit || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// The scope part of a request's cache keys.
    /// - Parameters:
    ///   - keyID: The caller's API key id, or nil when authentication is off (every caller is then one
    ///     tenant, "anonymous").
    ///   - namespace: The request's `cache.namespace`, if any.
    func prefix(keyID: String?, namespace: String?) -> String {
        let owner = "key:" + (keyID ?? "anonymous")
        switch (self, namespace) {
        case (.key, nil): return owner
        case (.key, let ns?): return owner + "/ns:" + ns
        case (.namespace, nil): return owner
        case (.namespace, let ns?): return "ns:" + ns
        case (.global, nil): return "global"
        case (.global, let ns?): return "global/ns:" + ns
        }
    }
}

private extension UInt8 {
    var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
