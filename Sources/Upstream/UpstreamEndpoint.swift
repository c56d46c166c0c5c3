import Foundation

/// One OpenAI-compatible upstream server as the gateway uses it: where it is, which model to ask for,
/// how to authenticate, and the limits of talking to it.
///
/// Built once from configuration; every setting is checked here, so a bad value stops the daemon at
/// start with a message naming the setting (``UpstreamConfigurationError``). Its `description` shows
/// the base URL (operators wrote it) but never the API key.
public struct UpstreamEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// The base URL, up to and including `/v1`, without a trailing slash
    /// (`http://127.0.0.1:8000/v1`); routes are appended to it.
    public let baseURL: URL
    /// The model name the upstream knows; it replaces the `model` of every request body.
    public let model: String
    /// The bearer token sent as `Authorization: Bearer …`, if the upstream wants one.
    public let apiKey: UpstreamAPIKey?
    /// A PEM file with the CA certificate(s) that sign the upstream's certificate (https only).
    ///
    /// FoundationNetworking on Linux verifies TLS against the system trust store and has no per-session
    /// or per-process way to add a CA (see Sources/Upstream/README.md), so this names the CA the
    /// operator expects to be trusted: ``UpstreamClient`` checks at start that every certificate in it
    /// is in the trust bundle, and refuses to start otherwise, saying how to add it.
    public let caFile: String?
    /// The connect, first-byte and total timeouts.
    public let timeouts: UpstreamTimeouts
    /// How many requests may be in flight at once; more wait in FIFO order.
    public let maxConcurrentRequests: Int
    /// Whether streaming requests ask for a final usage chunk (`stream_options.include_usage`).
    /// Servers that refuse the field (some older ones do) need `false`; the caller then counts tokens.
    public let requestsStreamUsage: Bool
    /// The largest non-streaming response body accepted, in bytes.
    public let maxResponseBytes: Int

    /// The most requests in flight one endpoint may be configured for.
    public static let concurrencyCeiling = 1024

    /// Checks and keeps an endpoint's settings.
    /// - Parameters:
    ///   - baseURL: `http://` or `https://`, a host, and a path ending in `/v1`; no credentials,
    ///     query or fragment.
    ///   - model: the upstream's model name (1 to 256 characters, no control characters).
    ///   - apiKey: the bearer token, if any.
    ///   - caFile: a PEM CA file for an https upstream (see ``caFile``).
    ///   - timeouts: per-phase timeouts; each must be positive.
    ///   - maxConcurrentRequests: 1 to ``concurrencyCeiling``.
    ///   - requestsStreamUsage: ask streams for a usage chunk (default `true`).
    ///   - maxResponseBytes: the largest non-streaming body accepted (default 64 MiB).
    /// - Throws: ``UpstreamConfigurationError`` naming the first setting that is wrong.
    public init(
        baseURL: String,
        model: String,
        apiKey: UpstreamAPIKey? = nil,
        caFile: String? = nil,
        timeouts: UpstreamTimeouts = UpstreamTimeouts(),
        maxConcurrentRequests: Int = 8,
        requestsStreamUsage: Bool = true,
        maxResponseBytes: Int = 64 << 20
    ) throws(UpstreamConfigurationError) {
        self.baseURL = try Self.checkedBaseURL(baseURL)
        guard !model.isEmpty, model.count <= 256 else {
            throw UpstreamConfigurationError("model", "must be 1 to 256 characters, got \(model.count)")
        }
        guard !model.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw UpstreamConfigurationError("model", "has a control character")
        }
        self.model = model
        self.apiKey = apiKey
        if let caFile {
            guard self.baseURL.scheme == "https" else {
                throw UpstreamConfigurationError("CA file", "is set but the base URL is not https")
            }
            guard !caFile.isEmpty else { throw UpstreamConfigurationError("CA file", "is an empty path") }
        }
        self.caFile = caFile
        self.timeouts = try timeouts.validated()
        guard (1...Self.concurrencyCeiling).contains(maxConcurrentRequests) else {
            throw UpstreamConfigurationError(
                "max concurrent requests", "must be 1 to \(Self.concurrencyCeiling), got \(maxConcurrentRequests)")
        }
        self.maxConcurrentRequests = maxConcurrentRequests
        self.requestsStreamUsage = requestsStreamUsage
        guard maxResponseBytes > 0 else {
            throw UpstreamConfigurationError("max response bytes", "must be positive, got \(maxResponseBytes)")
        }
        self.maxResponseBytes = maxResponseBytes
    }

    public var description: String {
        var parts = ["base \(baseURL.absoluteString)", "model \(model)"]
        if apiKey != nil { parts.append("API key <redacted>") }
        if let caFile { parts.append("CA file \(caFile)") }
        parts.append(timeouts.description)
        parts.append("max \(maxConcurrentRequests) concurrent")
        return "upstream(" + parts.joined(separator: ", ") + ")"
    }

    /// The URL of a route under the base (`chat/completions` → `…/v1/chat/completions`).
    func url(of route: UpstreamRoute) -> URL {
        if case .other(_, _, let url) = route { return url }
        return baseURL.appendingPathComponent(route.path)
    }

    /// The URL of an absolute path on the server (`/health` → `http://host:port/health`): the base URL
    /// without its final `/v1`, then the path, which may carry a query.
    /// - Returns: nil when the path does not start with `/` or does not make a URL.
    func url(ofAbsolutePath path: String) -> URL? {
        guard path.hasPrefix("/"), !path.hasPrefix("//") else { return nil }
        let root = String(baseURL.absoluteString.dropLast("/v1".count))
        return URL(string: root + path)
    }

    private static func checkedBaseURL(_ text: String) throws(UpstreamConfigurationError) -> URL {
        func refuse(_ reason: String) -> UpstreamConfigurationError { UpstreamConfigurationError("base URL", reason) }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed) else { throw refuse("is not a URL: \"\(text)\"") }
        guard let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw refuse("must be http:// or https://, got \"\(text)\"")
        }
        guard let host = components.host, !host.isEmpty else { throw refuse("has no host: \"\(text)\"") }
        // Credentials in the URL would show wherever the URL is logged; the API key is the place for them.
        guard components.user == nil, components.password == nil else {
            throw refuse("must not carry credentials; give the API key separately")
        }
        guard components.query == nil, components.fragment == nil else {
            throw refuse("must not have a query or fragment: \"\(text)\"")
        }
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        guard path == "/v1" || path.hasSuffix("/v1") else {
            throw refuse("must end with /v1 (like http://127.0.0.1:8000/v1), got path \"\(components.path)\"")
        }
        var normalised = components
        normalised.scheme = scheme
        normalised.path = path
        guard let url = normalised.url else { throw refuse("is not a URL: \"\(text)\"") }
        return url
    }
}
