import APIKeys
import DaemonRuntime
import HTTP
import IPC
import Services
import Tracing

/// A scope an API key may hold; a route names the one it needs. Defined in IPC, where the keys file
/// that `inferctl keys` writes and frontd reads is.
typealias Scope = APIKeyScope

/// Who may call a route.
enum Access: Sendable, Equatable {
    /// Anyone: health, readiness, `/`.
    case open
    /// Any valid API key.
    case anyKey
    /// A valid API key holding this scope.
    case scope(Scope)
    /// Authenticated by the handler itself (webhooks: an HMAC signature, not a bearer key).
    case signed
}

/// The caller an API key identifies, after authentication.
struct Principal: Sendable, Equatable {
    /// The key's name, as given to `inferctl keys create`.
    var name: String
    /// The key's id from the keys file: short, non-secret, used as limitd's key.
    var id: String
    var scopes: Set<Scope>
    /// Requests per minute for this key, or 0 for limitd's default.
    var requestsPerMinute: UInt32
    /// The key's other limits, as limitd takes them (0: limitd's default; requests per minute included).
    var limits = LimitProtocol.Limits()
    /// The key's limits per model.
    var modelLimits: [String: LimitProtocol.Limits] = [:]
    /// The key's budget (max 0: none) and its period.
    var budget = LimitProtocol.Budget()
    /// The models the key may use (empty: all).
    var models: [String] = []
}

/// One route: a method and path, who may call it, and its handler.
struct Route: Sendable {
    /// How a route's path matches a request path.
    enum PathPattern: Sendable, Equatable {
        /// Exactly this path.
        case exact(String)
        /// This prefix followed by one non-empty segment without `/` (e.g. `/v1/jobs/` + id).
        case prefixed(String)

        func matches(_ path: String) -> Bool {
            switch self {
            case .exact(let p): return path == p
            case .prefixed(let p):
                guard path.hasPrefix(p), path.utf8.count > p.utf8.count else { return false }
                return !path.utf8.dropFirst(p.utf8.count).contains(UInt8(ascii: "/"))
            }
        }

        /// The label used in metrics and logs: the path, with `{id}` for the variable segment.
        var label: String {
            switch self {
            case .exact(let p): return p
            case .prefixed(let p): return p + "{id}"
            }
        }
    }

    typealias Handler = @Sendable (RequestContext) async throws -> Int

    let method: HTTPMethod
    let path: PathPattern
    let access: Access
    /// Answers the request and returns the status it sent (for metrics).
    let handler: Handler

    init(_ method: HTTPMethod, _ path: PathPattern, _ access: Access, _ handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.access = access
        self.handler = handler
    }
}

/// One request in flight: what every handler needs to answer it.
struct RequestContext: Sendable {
    let request: HTTPRequest
    let response: HTTPResponseWriter
    /// The client's valid X-Request-ID or a generated one; on every reply and log line.
    let requestID: String
    /// The authenticated caller, or nil on open routes (and when auth is off).
    let principal: Principal?
    /// Headers added to every reply of this request (e.g. CORS).
    let replyHeaders: HTTPHeaders
    /// The deployment batchd routed this request to, once it answers.
    let answeredBy = AnsweringDeployment()
    /// limitd's reservation for this request and the rate-limit headers of its replies.
    let admission = AdmissionTicket()
    /// What the request still has to do once its reply is written (``AfterReply``).
    let afterReply = AfterReply()
    /// The request's server span (its context is the task's trace context while the route runs).
    let span: Span
    /// frontd's logger with this request's `request_id`, `trace_id` and `span_id` bound.
    let log: Logger

    init(request: HTTPRequest, response: HTTPResponseWriter, requestID: String, principal: Principal?, replyHeaders: HTTPHeaders,
         span: Span = Tracer.disabled.startSpan("request", parent: nil), logger: Logger = Logger(daemon: "frontd")) {
        self.request = request
        self.response = response
        self.requestID = requestID
        self.principal = principal
        self.replyHeaders = replyHeaders
        self.span = span
        self.log = logger
    }

    /// Who limitd limits: the key's id, else the client's address.
    var clientKey: String {
        if let principal { return "key:" + principal.id }
        return "ip:" + request.remoteAddress
    }

    /// The headers of a reply: content type, X-Request-ID, this request's reply headers, then `extra`.
    func headers(contentType: String = "application/json", _ extra: HTTPHeaders = HTTPHeaders()) -> HTTPHeaders {
        var h: HTTPHeaders = ["Content-Type": contentType, "X-Request-ID": requestID]
        for f in replyHeaders { h.add(name: f.name, value: f.value) }
        for f in admission.headers() { h.add(name: f.name, value: f.value) }
        for f in extra { h.add(name: f.name, value: f.value) }
        return h
    }

    /// Sends a complete JSON reply.
    func send(_ status: HTTPStatus, _ body: [UInt8], extra: HTTPHeaders = HTTPHeaders()) throws {
        try response.respond(status: status, headers: headers(extra), body: body)
    }

    /// Sends a complete JSON reply from a value (``JSONWriter``).
    func send(_ status: HTTPStatus, json: JSONValue, extra: HTTPHeaders = HTTPHeaders()) throws {
        try send(status, JSONWriter.bytes(json), extra: extra)
    }

    /// Starts a server-sent event stream with this request's headers.
    func startEvents(_ extra: HTTPHeaders = HTTPHeaders()) throws -> SSEWriter {
        try SSEWriter.start(on: response, headers: headers(contentType: "text/event-stream", extra))
    }

    /// A logger whose lines carry this request's id and trace.
    func logger(_ base: Logger) -> Logger {
        base.with(["request_id": .string(requestID), "trace_id": .string(span.traceIDHex), "span_id": .string(span.spanIDHex)])
    }
}
