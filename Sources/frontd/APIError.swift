import HTTP
import IPC
import Services
import Wire

/// An error answered to a client: one JSON shape everywhere,
/// `{"error": {"message", "type", "code", "param", "request_id"}}`, with its HTTP status.
struct APIError: Error {
    let status: HTTPStatus
    let message: String
    let type: String
    let code: String?
    let param: String?
    /// Seconds for a Retry-After header (429, 503).
    var retryAfter: Int?
    /// The Allow header of a 405.
    var allow: String?
    /// The WWW-Authenticate header of a 401.
    var wwwAuthenticate: String?

    init(status: HTTPStatus, message: String, type: String, code: String?, param: String?, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retryAfter = retryAfter
    }

    /// The headers this error adds to its reply (Retry-After, Allow).
    var headers: HTTPHeaders {
        var h = HTTPHeaders()
        if let retryAfter { h.add(name: "Retry-After", value: String(retryAfter)) }
        if let allow { h.add(name: "Allow", value: allow) }
        if let wwwAuthenticate { h.add(name: "WWW-Authenticate", value: wwwAuthenticate) }
        return h
    }

    static func invalid(_ message: String, param: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", code: nil, param: param)
    }
    static func unprocessable(_ message: String, param: String) -> APIError {
        APIError(status: HTTPStatus(code: 422, reason: "Unprocessable Content"), message: message, type: "invalid_request_error", code: "invalid_value", param: param)
    }
    static func notFound(_ message: String, code: String = "not_found", param: String? = nil) -> APIError {
        APIError(status: .notFound, message: message, type: "invalid_request_error", code: code, param: param)
    }
    static func unavailable(_ message: String, retryAfter: Int = 1) -> APIError {
        APIError(status: HTTPStatus(code: 503, reason: "Service Unavailable"), message: message, type: "server_error", code: "service_unavailable", param: nil, retryAfter: retryAfter)
    }
    static func rateLimited(retryAfter: Int, limit: String = "") -> APIError {
        let which = RateLimitNames.describe(limit)
        return APIError(status: HTTPStatus(code: 429, reason: "Too Many Requests"),
                        message: "rate limit reached\(which.isEmpty ? "" : " (" + which + ")"); retry in \(retryAfter) s",
                        type: "rate_limit_error", code: "rate_limit_exceeded", param: nil, retryAfter: retryAfter)
    }
    /// 429 `budget_exceeded`: the key's budget cannot cover the request's worst case before the period ends.
    static func budgetExceeded(_ budget: LimitProtocol.BudgetStatus, retryAfter: Int?) -> APIError {
        let spent = NanoUSD.dollars(budget.spentNanoUSD), held = NanoUSD.dollars(budget.reservedNanoUSD), max = NanoUSD.dollars(budget.maxNanoUSD)
        var message = "budget exceeded: this API key has spent $\(NanoUSD.text(spent))" + (held > 0 ? " (and $\(NanoUSD.text(held)) is held by running requests)" : "")
            + " of its $\(NanoUSD.text(max)) budget, and this request could cost more than is left"
        message += budget.periodEnd > 0 ? "; the budget resets at \(RateLimitNames.timestamp(budget.periodEnd))" : "; the budget does not reset"
        return APIError(status: HTTPStatus(code: 429, reason: "Too Many Requests"), message: message,
                        type: "insufficient_quota", code: "budget_exceeded", param: nil, retryAfter: retryAfter)
    }
    /// 429 `request_too_large`: the request alone asks for more tokens than the key's token limit allows.
    static func requestTooLarge(tokens: Int, limit: Int, scope: String) -> APIError {
        APIError(status: HTTPStatus(code: 429, reason: "Too Many Requests"),
                 message: "request too large: it may use \(tokens) tokens (prompt and max_tokens), more than the \(RateLimitNames.describe(scope)) of \(limit); lower max_tokens or shorten the prompt",
                 type: "tokens", code: "request_too_large", param: nil)
    }
    static let timeout = APIError(status: HTTPStatus(code: 504, reason: "Gateway Timeout"), message: "the model did not answer in time",
                                  type: "server_error", code: "timeout", param: nil)
    static func methodNotAllowed(_ method: HTTPMethod, allowed: [HTTPMethod]) -> APIError {
        var e = APIError(status: HTTPStatus(code: 405, reason: "Method Not Allowed"),
                         message: "\(method) is not allowed here; use \(allowed.map(\.rawValue).joined(separator: ", "))",
                         type: "invalid_request_error", code: "method_not_allowed", param: nil)
        e.allow = allowed.map(\.rawValue).joined(separator: ", ")
        return e
    }
    /// 401: no API key, or not a valid one (`invalid_api_key`), or one past its expiry (`expired_api_key`).
    static func unauthorized(_ message: String, code: String = "invalid_api_key") -> APIError {
        var e = APIError(status: HTTPStatus(code: 401, reason: "Unauthorized"), message: message,
                         type: "authentication_error", code: code, param: nil)
        e.wwwAuthenticate = "Bearer"
        return e
    }
    /// 403: a valid API key without the scope the route needs.
    static func forbidden(_ message: String) -> APIError {
        APIError(status: HTTPStatus(code: 403, reason: "Forbidden"), message: message,
                 type: "permission_error", code: "insufficient_scope", param: nil)
    }
    static func internalError(_ message: String) -> APIError {
        APIError(status: HTTPStatus(code: 500, reason: "Internal Server Error"), message: message, type: "server_error", code: "internal_error", param: nil)
    }

    /// What a failed call to batchd means for the client. `promptParam` names the field that holds the
    /// prompt in this route's body (`messages`, or `prompt` on the native and completions routes).
    static func from(_ error: Error, promptParam: String = "messages") -> APIError {
        switch error {
        case let e as APIError: return e
        case IPCError.timeout: return .timeout
        case IPCError.remote(let code, let message):
            switch code {
            case ServiceErrorCode.unknownModel: return .notFound(message, code: "model_not_found", param: "model")
            case ServiceErrorCode.invalidRequest: return .invalid(message, param: promptParam)
            case ServiceErrorCode.contextLengthExceeded:
                return APIError(status: .badRequest, message: message, type: "invalid_request_error", code: "context_length_exceeded", param: promptParam)
            case ServiceErrorCode.invalidParameter:
                return .unprocessable(message, param: String(message.prefix { $0 != " " }))
            case ServiceErrorCode.queueFull, IPCErrorCode.overloaded: return .unavailable("the model's queue is full", retryAfter: 1)
            case IPCErrorCode.deadlineExceeded: return .timeout
            case ServiceErrorCode.upstreamRateLimited:
                let (seconds, text) = RetryAfterMessage.parse(message)
                return APIError(status: HTTPStatus(code: 429, reason: "Too Many Requests"), message: text,
                                type: "rate_limit_error", code: "upstream_rate_limited", param: nil, retryAfter: seconds ?? 1)
            case ServiceErrorCode.upstreamFailed:
                return APIError(status: HTTPStatus(code: 502, reason: "Bad Gateway"), message: message, type: "server_error",
                                code: "upstream_error", param: nil)
            case ServiceErrorCode.upstreamTimeout:
                return APIError(status: HTTPStatus(code: 504, reason: "Gateway Timeout"), message: message, type: "server_error",
                                code: "upstream_timeout", param: nil)
            default: return .unavailable("model backend error: \(message)")
            }
        case IPCError.unavailable: return .unavailable("the scheduler (batchd) is unavailable")
        case IPCError.connectionLost: return .unavailable("the scheduler connection was lost mid-request")
        default: return .internalError("\(error)")
        }
    }

    /// `{"error":{"code","message","param","request_id","type"}}` (members in ``JSONKeyOrder``).
    func body(requestID: String?) -> [UInt8] {
        JSONWriter.bytes(["error": ["message": .string(message), "type": .string(type), "request_id": .optional(requestID),
                                    "code": .optional(code), "param": .optional(param)]])
    }
}

extension APIError {
    /// The replies the HTTP server writes itself (a request it could not parse, one not received in
    /// time, a handler that sent nothing) in the same shape as every other error: `invalid_request_error`
    /// (`server_error` for a 5xx other than 501 and 505, which are about the request), a code naming the
    /// status, `param` null.
    static let serverReplyBody: ErrorReply.Writer = { reply in
        let serverSide = reply.status.code >= 500 && reply.status.code != 501 && reply.status.code != 505
        let error = APIError(status: reply.status, message: reply.message,
                             type: serverSide ? "server_error" : "invalid_request_error",
                             code: code(for: reply.status), param: nil)
        return ("application/json", error.body(requestID: reply.requestID))
    }

    /// A short code for a status the server answers itself, e.g. `request_too_large` for 413.
    static func code(for status: HTTPStatus) -> String {
        switch status.code {
        case 400: return "bad_request"
        case 408: return "request_timeout"
        case 413: return "request_too_large"
        case 414: return "uri_too_long"
        case 417: return "expectation_failed"
        case 431: return "headers_too_large"
        case 500: return "internal_error"
        case 501: return "not_implemented"
        case 505: return "http_version_not_supported"
        default: return "http_\(status.code)"
        }
    }
}
