import Basics

/// Why an upstream request failed, classified for the gateway's decisions.
///
/// Three audiences, three properties:
/// - the scheduler: ``isRetryable`` (may the request go to this or another deployment again?);
/// - the client: ``clientStatus`` and ``clientMessage``, which never name the upstream's address, its
///   URL or the API key (internal addresses must not leak);
/// - the operator: ``logMessage`` (also the `description`), with the transport's own words, the route
///   and the upstream's error text, redacted the same way.
///
/// A struct around a ``Kind`` rather than an enum, so kinds can be added without breaking callers.
public struct UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, broadly; compare with `==` or `switch` over the static members.
    public typealias Kind = ErrorCode<UpstreamError>

    /// The phase a ``Kind/timeout`` happened in (see ``UpstreamTimeouts``).
    public enum TimeoutPhase: String, Sendable, Hashable {
        /// Writing the request: TCP connect, TLS handshake, headers and body.
        case connect
        /// Waiting for the response head once the request was written.
        case firstByte = "first byte"
        /// The whole call, the wait for a concurrency slot included.
        case total
    }

    /// What went wrong.
    public let kind: Kind
    /// For ``Kind/timeout``: which phase ran out.
    public let timeoutPhase: TimeoutPhase?
    /// For ``Kind/http``: the upstream's status code.
    public let upstreamStatus: Int?
    /// The upstream's `Retry-After`, in seconds, when it sent one.
    public let retryAfterSeconds: Int?
    /// For ``Kind/http``: the message of the upstream's error body, sanitised (no control characters,
    /// at most 300 characters, addresses, URLs and the API key removed).
    public let upstreamMessage: String?
    /// For ``Kind/http``: the machine-readable code of the upstream's error body (`error.code` when it is
    /// a word, else `error.type`), kept only when it is a short identifier.
    public let upstreamCode: String?
    /// Whether part of the answer (a stream event) had already been handed to the caller.
    public let afterOutput: Bool
    /// The route (`POST /v1/chat/completions`), for the log.
    let route: String
    /// What the transport or the parser said, already redacted, for the log.
    public let detail: String

    init(
        _ kind: Kind, route: String, detail: String = "", timeoutPhase: TimeoutPhase? = nil,
        upstreamStatus: Int? = nil, retryAfterSeconds: Int? = nil, upstreamMessage: String? = nil,
        upstreamCode: String? = nil, afterOutput: Bool = false
    ) {
        self.kind = kind
        self.route = route
        self.detail = detail
        self.timeoutPhase = timeoutPhase
        self.upstreamStatus = upstreamStatus
        self.retryAfterSeconds = retryAfterSeconds
        self.upstreamMessage = upstreamMessage
        self.upstreamCode = upstreamCode
        self.afterOutput = afterOutput
    }

    /// An answer with the right status whose content the caller could not use (a list of the wrong
    /// length, a field of the wrong type): for callers that read the JSON themselves.
    /// - Parameters:
    ///   - route: The route, for the log (`POST /v1/embeddings`).
    ///   - detail: What was wrong; it must hold no secret or address.
    public static func invalidResponse(route: String, _ detail: String) -> UpstreamError {
        UpstreamError(.invalidResponse, route: route, detail: detail)
    }

    /// The same error, noting whether output had reached the caller before it.
    func markingOutput(_ afterOutput: Bool) -> UpstreamError {
        UpstreamError(kind, route: route, detail: detail, timeoutPhase: timeoutPhase, upstreamStatus: upstreamStatus,
                      retryAfterSeconds: retryAfterSeconds, upstreamMessage: upstreamMessage, upstreamCode: upstreamCode,
                      afterOutput: afterOutput)
    }

    /// Whether trying again (here or on another deployment) may succeed: refused, failed or reset
    /// connections, timeouts, 5xx and 429 — and only while no output has reached the caller.
    public var isRetryable: Bool {
        guard !afterOutput else { return false }
        switch kind {
        case .connectRefused, .connectFailed, .connectionReset, .timeout: return true
        case .http:
            guard let status = upstreamStatus else { return false }
            return status == 429 || (500...599).contains(status)
        default: return false
        }
    }

    /// Whether the upstream refused the request because the prompt (with the completion it asks for)
    /// does not fit the model's context — so another model, with a longer context, may take it:
    /// a 400, 413 or 422 whose body says so the way the servers in use do:
    /// - OpenAI and llama-cpp-python: code `context_length_exceeded`;
    /// - llama.cpp's server: type `exceed_context_size_error`, "the request exceeds the available context size";
    /// - vLLM (and OpenAI's older wording): "This model's maximum context length is N tokens";
    /// - TGI: "`inputs` tokens + `max_new_tokens` must be <= N".
    public var isContextLengthExceeded: Bool {
        guard kind == .http, let status = upstreamStatus, [400, 413, 422].contains(status) else { return false }
        if let upstreamCode, Self.contextCodes.contains(upstreamCode) { return true }
        guard let message = upstreamMessage?.lowercased() else { return false }
        return Self.contextPhrases.contains { message.contains($0) }
    }

    static let contextCodes: Set<String> = ["context_length_exceeded", "exceed_context_size_error"]
    static let contextPhrases = [
        "maximum context length", "exceeds the available context size", "context length exceeded",
        "context_length_exceeded", "tokens + `max_new_tokens` must be <=",
    ]

    /// The status the gateway should answer its client with.
    ///
    /// - upstream 400, 413, 422 → the same (the client's request was refused on its merits);
    /// - upstream 401, 403 → 502 (the gateway's own credentials are wrong, not the client's);
    /// - upstream 404 → 502: the gateway already resolved the client's model to this deployment, so a
    ///   404 means the deployment's model name or base URL is misconfigured — a gateway fault;
    /// - upstream 429 → 429 (with ``retryAfterSeconds`` as `Retry-After` when given);
    /// - upstream 503 → 503, 504 → 504, other 5xx and unexpected statuses → 502;
    /// - connection refused or failed → 503 (the model is unavailable right now);
    /// - reset, TLS failure, invalid response, cut stream → 502;
    /// - timeout → 504; invalid request body → 400;
    /// - cancelled → 499 (nginx's "client closed request"; there is nobody left to answer).
    public var clientStatus: Int {
        switch kind {
        case .http:
            switch upstreamStatus ?? 502 {
            case 400, 413, 422: return upstreamStatus ?? 502
            case 429: return 429
            case 503: return 503
            case 504: return 504
            default: return 502
            }
        case .connectRefused, .connectFailed: return 503
        case .timeout: return 504
        case .invalidRequest: return 400
        case .cancelled: return 499
        default: return 502
        }
    }

    /// A message for the client: what failed, in the gateway's words, plus the upstream's own
    /// (sanitised) message when the client's request was refused on its merits (400, 413, 422).
    public var clientMessage: String {
        switch kind {
        case .http:
            let status = upstreamStatus ?? 0
            switch status {
            case 400, 413, 422:
                let base = "the model server refused the request"
                return upstreamMessage.map { "\(base): \($0)" } ?? base
            case 401, 403: return "the gateway's credentials for the model server were refused"
            case 404: return "the model server does not serve the configured model"
            case 429: return "the model server is rate limiting; retry later"
            case 503: return "the model server is temporarily unavailable; retry later"
            case 500...599: return "the model server failed (status \(status))"
            default: return "the model server answered with unexpected status \(status)"
            }
        case .connectRefused, .connectFailed: return "the model server is unreachable"
        case .connectionReset: return "the model server closed the connection"
        case .tls: return "the secure connection to the model server failed"
        case .timeout: return "the model server did not answer in time (\((timeoutPhase ?? .total).rawValue))"
        case .invalidResponse: return "the model server sent an invalid response"
        case .streamCut: return "the model server's stream ended early"
        case .cancelled: return "the request was cancelled"
        case .invalidRequest: return "the request body is invalid: \(detail)"
        default: return "the model server request failed"
        }
    }

    /// A line for the operator's log: route, kind, phase or status, and what the transport or the
    /// upstream said. Redacted like ``clientMessage``: no API key, no host, no URL.
    public var logMessage: String {
        var text = "upstream \(route): \(kind)"
        if let timeoutPhase { text += " (\(timeoutPhase.rawValue))" }
        if let upstreamStatus { text += " \(upstreamStatus)" }
        if let retryAfterSeconds { text += ", retry after \(retryAfterSeconds) s" }
        if afterOutput { text += ", after output began" }
        if !detail.isEmpty { text += ": \(detail)" }
        if let upstreamCode { text += " (code \(upstreamCode))" }
        if let upstreamMessage { text += " — upstream says: \(upstreamMessage)" }
        return text
    }

    public var description: String { logMessage }
}

extension ErrorCode where Domain == UpstreamError {
    /// The upstream refused the TCP connection (nothing listens there).
    public static var connectRefused: Self { Self("connection refused") }
    /// The connection could not be made for another reason (name lookup, no route).
    public static var connectFailed: Self { Self("could not connect") }
    /// The upstream closed or reset the connection before its answer began.
    public static var connectionReset: Self { Self("connection reset") }
    /// The TLS handshake failed (most often: the certificate is not trusted).
    public static var tls: Self { Self("TLS failure") }
    /// A phase took longer than its timeout; see ``UpstreamError/timeoutPhase``.
    public static var timeout: Self { Self("timeout") }
    /// The upstream answered with a status other than 2xx; see ``UpstreamError/upstreamStatus``.
    public static var http: Self { Self("HTTP error status") }
    /// The upstream's answer could not be used (not JSON, not an event stream, too large).
    public static var invalidResponse: Self { Self("invalid response") }
    /// A stream ended (or broke) after some events but without `[DONE]`.
    public static var streamCut: Self { Self("stream cut") }
    /// The caller's task was cancelled; the upstream connection was closed.
    public static var cancelled: Self { Self("cancelled") }
    /// The request body given to the client was not a JSON object.
    public static var invalidRequest: Self { Self("invalid request") }
}
