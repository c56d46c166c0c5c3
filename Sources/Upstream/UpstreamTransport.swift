import Foundation

/// What carries a client's HTTP exchanges.
///
/// `https://` upstreams always go through URLSession (FoundationNetworking, libcurl with OpenSSL: TLS needs
/// it, and the project takes no third-party packages). Plain `http://` upstreams go through the client's
/// own HTTP/1.1 connections on the process's event loop (``HTTP1ConnectionPool``), which cost a fraction
/// of URLSession's per-request time, unless the environment variable `INFER_UPSTREAM_TRANSPORT=urlsession`
/// says otherwise or a proxy variable is set (libcurl honours `http_proxy`, `all_proxy` and `no_proxy`;
/// the event-loop client connects directly).
public enum UpstreamTransport: String, Sendable, CaseIterable {
    /// The event loop for `http://`, URLSession for `https://` (the default).
    case automatic = "auto"
    /// URLSession for every upstream.
    case urlSession = "urlsession"

    /// The environment variable that chooses (`auto` or `urlsession`).
    public static let environmentVariable = "INFER_UPSTREAM_TRANSPORT"

    /// The proxy variables libcurl reads for `http://`: any of them set keeps such upstreams on URLSession.
    static let proxyVariables = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]

    /// The choice the environment makes.
    /// - Throws: ``UpstreamConfigurationError`` for a value other than `auto` and `urlsession`.
    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(UpstreamConfigurationError) -> UpstreamTransport
    {
        guard let value = environment[environmentVariable], !value.isEmpty else { return .automatic }
        guard let transport = UpstreamTransport(rawValue: value.lowercased()) else {
            throw UpstreamConfigurationError(
                environmentVariable, "must be \"auto\" or \"urlsession\", got \"\(value.prefix(40))\"")
        }
        return transport
    }

    /// Whether an endpoint's exchanges go over the event loop.
    static func usesEventLoop(_ endpoint: UpstreamEndpoint, choice: UpstreamTransport,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool
    {
        choice == .automatic && endpoint.baseURL.scheme == "http"
            && !proxyVariables.contains { !(environment[$0] ?? "").isEmpty }
    }
}
