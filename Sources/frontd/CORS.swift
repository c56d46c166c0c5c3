import Basics
import HTTP

/// Cross-origin resource sharing from `CORS_ORIGINS`: which browser origins may call the API, and the
/// headers that tell a browser so.
///
/// - Off (the default, `CORS_ORIGINS` empty): no CORS header on any reply; every preflight is refused.
/// - A list of exact origins (`https://app.example.com,http://localhost:3000`): a request whose `Origin`
///   is on the list gets `Access-Control-Allow-Origin: <that origin>` and
///   `Access-Control-Allow-Credentials: true`; every reply carries `Vary: Origin`, since it depends on it.
/// - `*`: any origin, answered `Access-Control-Allow-Origin: *` and never with credentials (browsers
///   refuse the two together).
struct CORSPolicy: Sendable, Equatable {
    enum Origins: Sendable, Equatable {
        case none
        case any
        /// Normalised origins: lower-case scheme and host, no default port.
        case list(Set<String>)
    }

    let origins: Origins

    /// CORS off.
    static let off = CORSPolicy(origins: .none)

    /// Request headers a browser may send cross-origin: the API's own, and those the official OpenAI
    /// JavaScript client adds (`OpenAI-Organization`, `OpenAI-Project`, `OpenAI-Beta`, `X-Stainless-*`).
    static let allowedHeaders = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"]
    static let extraAllowedHeaders: Set<String> = ["openai-organization", "openai-project", "openai-beta"]
    static let allowedHeaderPrefix = "x-stainless-"
    /// Response headers a browser script may read.
    static let exposedHeaders = "X-Request-ID, X-Cache, Retry-After"
    /// How long a browser may cache a preflight answer, in seconds.
    static let maxAgeSeconds = 600

    /// What `CORS_ORIGINS` must look like, for the setting's error message.
    static let expected = "a comma-separated list of origins such as https://app.example.com or http://localhost:3000 "
        + "(scheme://host[:port], no path), or * alone"

    var isEnabled: Bool { origins != .none }

    /// Parses `CORS_ORIGINS` (already trimmed and non-empty); nil when any item is not an origin or `*`
    /// is mixed with origins.
    static func parse(_ text: String) -> CORSPolicy? {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingOptionalWhitespace() }
            .filter { !$0.isEmpty }
        if items.isEmpty { return .off }
        if items.contains("*") { return items.count == 1 ? CORSPolicy(origins: .any) : nil }
        var set = Set<String>()
        for item in items {
            guard let origin = normalizedOrigin(item) else { return nil }
            set.insert(origin)
        }
        return CORSPolicy(origins: .list(set))
    }

    /// `scheme://host[:port]` with a lower-case scheme and host and without the scheme's default port,
    /// or nil when `text` is not such an origin (a path, a query, user info, no scheme, a bad port).
    static func normalizedOrigin(_ text: String) -> String? {
        guard let separator = text.firstRange(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound].lowercased()
        // RFC 3986 scheme: a letter, then letters, digits, "+", "-", ".".
        guard let first = scheme.unicodeScalars.first, ("a"..."z").contains(first),
              scheme.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0) })
        else { return nil }
        var rest = Substring(text[separator.upperBound...])
        var port: Int?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("]") {
            let digits = rest[rest.index(after: colon)...]
            guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy(\.isASCIIDigit), let p = Int(digits), (1...65535).contains(p) else {
                return nil
            }
            port = p
            rest = rest[..<colon]
        }
        let host = rest.lowercased()
        guard !host.isEmpty, host.utf8.count <= 253 else { return nil }
        if host.hasPrefix("[") {
            // An IPv6 literal: hex digits, colons and dots inside brackets.
            guard host.hasSuffix("]"), host.count > 2,
                  host.dropFirst().dropLast().allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }),
                  !host.hasPrefix("."), !host.hasPrefix("-") else { return nil }
        }
        if let p = port, !((scheme == "https" && p == 443) || (scheme == "http" && p == 80)) {
            return "\(scheme)://\(host):\(p)"
        }
        return "\(scheme)://\(host)"
    }

    /// Whether a request from `origin` (the `Origin` header) may read replies.
    func allows(_ origin: String?) -> Bool {
        guard let origin else { return false }
        switch origins {
        case .none: return false
        case .any: return true
        case .list(let set): return Self.normalizedOrigin(origin).map(set.contains) ?? false
        }
    }

    /// The CORS headers of an ordinary (not preflight) reply to a request from `origin`.
    func responseHeaders(origin: String?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        switch origins {
        case .none:
            return headers
        case .any:
            guard origin != nil else { return headers }
            headers.add(name: "Access-Control-Allow-Origin", value: "*")
        case .list:
            // The reply depends on Origin whether or not this one is allowed: caches must keep them apart.
            headers.add(name: "Vary", value: "Origin")
            guard let origin, allows(origin) else { return headers }
            headers.add(name: "Access-Control-Allow-Origin", value: origin)
            headers.add(name: "Access-Control-Allow-Credentials", value: "true")
        }
        headers.add(name: "Access-Control-Expose-Headers", value: Self.exposedHeaders)
        return headers
    }

    /// The headers of a 204 answer to a preflight from an allowed `origin` for a path serving `methods`.
    /// - Parameter requestedHeaders: `Access-Control-Request-Headers`; the allowed ones among them are
    ///   echoed (a browser then refuses the request if one it needs is missing), else the default list.
    func preflightHeaders(origin: String, methods: [HTTPMethod], requestedHeaders: String?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if origins == .any {
            headers.add(name: "Access-Control-Allow-Origin", value: "*")
        } else {
            headers.add(name: "Vary", value: "Origin")
            headers.add(name: "Access-Control-Allow-Origin", value: origin)
            headers.add(name: "Access-Control-Allow-Credentials", value: "true")
        }
        headers.add(name: "Access-Control-Allow-Methods", value: methods.map(\.rawValue).joined(separator: ", "))
        headers.add(name: "Access-Control-Allow-Headers", value: Self.allowedHeaderList(requested: requestedHeaders))
        headers.add(name: "Access-Control-Max-Age", value: String(Self.maxAgeSeconds))
        return headers
    }

    /// The requested header names that are allowed, as sent; the default list when none was requested.
    static func allowedHeaderList(requested: String?) -> String {
        let names = (requested ?? "").split(separator: ",").map { $0.trimmingOptionalWhitespace() }.filter { !$0.isEmpty }
        if names.isEmpty { return allowedHeaders.joined(separator: ", ") }
        let defaults = Set(allowedHeaders.map { $0.lowercased() })
        let allowed = names.filter { name in
            let lower = name.lowercased()
            return (defaults.contains(lower) || extraAllowedHeaders.contains(lower) || lower.hasPrefix(allowedHeaderPrefix))
                && lower.utf8.allSatisfy { $0 < 0x80 && $0 > 0x20 }
        }
        return allowed.joined(separator: ", ")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
