import Foundation
import Upstream

/// The HTTP API of a running stack (or of any OpenAI-compatible server) as the client commands use it:
/// the project's `Upstream` client (keep-alive, SSE, timeouts, errors classified) pointed at `--url`,
/// with `--key` as its bearer token. Bodies go exactly as the commands write them.
struct APIClient: Sendable {
    /// The client underneath.
    let client: UpstreamClient
    /// The base URL, for messages (the key is never part of it).
    let baseURL: String
    /// One request's limit.
    let timeout: Duration
    /// Headers every request carries (test-api's cache bypass).
    let headers: [String: String]

    /// The model name given to the `Upstream` endpoint. inferctl sends every body as written (the
    /// generic ``UpstreamClient/call(_:path:body:accept:options:)`` calls), so the endpoint's own model
    /// is never used; a short name, because the client's redactor hides model names of 6 characters or more.
    private static let unusedModel = "-"

    /// Builds the client from the flags and the environment.
    /// - Parameters:
    ///   - options: `--url`, `--key`, `--timeout`.
    ///   - environment: `INFER_URL`, `INFER_API_KEY`.
    ///   - concurrency: How many requests may be in flight at once (bench's `--concurrency`).
    ///   - headers: Headers every request carries.
    /// - Throws: ``InferctlError`` of kind `.usage` for a URL or key the client refuses.
    init(_ options: ClientOptions, environment: [String: String], concurrency: Int = 1, headers: [String: String] = [:])
        throws(InferctlError)
    {
        let given = options.url ?? environment["INFER_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? ClientOptions.defaultURL
        let url = Self.withVersionPath(given)
        let secret = options.key ?? environment["INFER_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        timeout = options.timeout ?? ClientOptions.defaultTimeout
        self.headers = headers
        do {
            let key = try secret.map { secret throws(UpstreamConfigurationError) in try UpstreamAPIKey(secret) }
            // The connect phase is short: a stack that is not there should say so at once, not in minutes.
            let timeouts = UpstreamTimeouts(connect: min(timeout, .seconds(10)), firstByte: timeout, total: timeout)
            let endpoint = try UpstreamEndpoint(
                baseURL: url, model: Self.unusedModel, apiKey: key, timeouts: timeouts,
                maxConcurrentRequests: max(1, min(concurrency, UpstreamEndpoint.concurrencyCeiling)))
            client = try UpstreamClient(endpoint: endpoint)
            baseURL = endpoint.baseURL.absoluteString
        } catch {
            let what = error.setting == "base URL" ? "--url \(given)" : error.setting == "API key" ? "--key (or INFER_API_KEY)" : error.setting
            throw .usage("\(what): \(error.reason)")
        }
    }

    /// `http://host:port` and `http://host:port/` mean the API at `/v1`; other paths are kept as given.
    static func withVersionPath(_ url: String) -> String {
        guard let components = URLComponents(string: url), components.path.isEmpty || components.path == "/" else { return url }
        return (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/v1"
    }

    /// Options for one request: its deadline (now + the timeout, or `deadline` when sooner), the client's
    /// headers and `headers`.
    func requestOptions(headers: [String: String] = [:], deadline: ContinuousClock.Instant? = nil) -> UpstreamRequestOptions {
        let own = ContinuousClock.now + timeout
        return UpstreamRequestOptions(deadline: deadline.map { min($0, own) } ?? own,
                                      extraHeaders: self.headers.merging(headers) { $1 })
    }

    /// `POST path` with a JSON body (bytes sent as they are); the 2xx answer.
    func post(_ path: String, _ body: Data, headers: [String: String] = [:]) async throws(UpstreamError) -> UpstreamResponse {
        try await client.call("POST", path: path, body: body, options: requestOptions(headers: headers))
    }

    /// `GET path`; the 2xx answer.
    func get(_ path: String, accept: String = "application/json", headers: [String: String] = [:])
        async throws(UpstreamError) -> UpstreamResponse
    {
        try await client.call("GET", path: path, accept: accept, options: requestOptions(headers: headers))
    }

    /// `POST path` with a JSON body that asks for a stream; the events, once the response head is in.
    func stream(_ path: String, _ body: Data, headers: [String: String] = [:]) async throws(UpstreamError) -> UpstreamEventStream {
        try await client.stream(path: path, body: body, options: requestOptions(headers: headers))
    }

    /// The path of an OpenAI route under the base URL (`chat/completions` → `/v1/chat/completions`, or
    /// `/api/v1/...` behind a prefix).
    func path(_ route: String) -> String {
        (URLComponents(string: baseURL)?.path ?? "/v1") + "/" + route
    }

    /// The path of one of the server's own routes, next to the base URL's `/v1` (`/health` →
    /// `/health`, or `/api/health` behind a prefix).
    func serverPath(_ absolute: String) -> String {
        String((URLComponents(string: baseURL)?.path ?? "/v1").dropLast("/v1".count)) + absolute
    }

    /// A request body as JSON bytes (keys sorted, so the same request is the same bytes).
    /// - Returns: The bytes; `{}` for an object JSON cannot hold (the commands only build valid ones).
    static func json(_ body: [String: Any]) -> Data {
        guard JSONSerialization.isValidJSONObject(body),
              let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else { return Data("{}".utf8) }
        return data
    }

    /// The error to stop with when the server cannot be reached at all: `GET path` cannot connect. Any
    /// answer, an error status included, means it can.
    func unreachable(probing path: String) async -> InferctlError? {
        do {
            _ = try await get(path)
            return nil
        } catch {
            let failure = failure(error, route: "GET \(path)")
            return failure.kind == .unreachable ? failure : nil
        }
    }

    /// An error of a request as inferctl reports it: a server that cannot be reached exits 3, anything
    /// else (an error status, a timeout, a broken stream) 1.
    /// - Parameters:
    ///   - error: What the client said.
    ///   - route: `POST /v1/chat/completions`, for the message.
    func failure(_ error: UpstreamError, route: String) -> InferctlError {
        switch error.kind {
        case .connectRefused, .connectFailed:
            return InferctlError(.unreachable, "cannot reach \(baseURL): \(error.kind) (is the stack running? inferctl status; "
                + "--url or INFER_URL says where it is)")
        case .timeout where error.timeoutPhase == .connect:
            return InferctlError(.unreachable, "cannot reach \(baseURL): no connection within the connect timeout")
        default:
            return InferctlError(.failure, "\(route): \(Self.describe(error))")
        }
    }

    /// What went wrong, in a few words: `401 invalid_api_key: the key is not valid`, `timeout (total)`.
    static func describe(_ error: UpstreamError) -> String {
        switch error.kind {
        case .http:
            var text = String(error.upstreamStatus ?? 0)
            if let code = error.upstreamCode { text += " \(code)" }
            if let message = error.upstreamMessage { text += ": \(message)" }
            if let retry = error.retryAfterSeconds { text += " (retry after \(retry) s)" }
            return text
        case .timeout:
            return "no answer within the timeout (\((error.timeoutPhase ?? .total).rawValue)); --timeout sets it"
        default:
            return error.detail.isEmpty ? "\(error.kind)" : "\(error.kind): \(error.detail)"
        }
    }

    /// A short label of an error for counts and tables: `HTTP 429`, `timeout`, `connection refused`.
    static func label(_ error: UpstreamError) -> String {
        if error.kind == .http, let status = error.upstreamStatus { return "HTTP \(status)" }
        return "\(error.kind)"
    }
}
