import DaemonRuntime
import HTTP
import IPC
import Metrics
import Tracing
import Wire

/// Dispatches a request to its route: request id, trace context, CORS and OPTIONS, authentication and
/// scope, 404/405, one JSON error shape for every failure, the per-route metrics and the access log line.
///
/// Tracing: a valid W3C `traceparent` (with its `tracestate`) makes the request's server span a child of
/// the client's; a malformed one is replaced by a new trace (never trusted in part). Every reply carries
/// `traceparent` naming the request's span, and the route runs with it as the task's trace context, so
/// limitd, cached, batchd and modeld add their spans to the same trace.
struct Router: Sendable {
    let frontend: Frontend
    let routes: [Route]
    let cors: CORSPolicy

    init(frontend: Frontend, cors: CORSPolicy = .off) {
        self.frontend = frontend
        self.cors = cors
        routes = RouteTable.routes(frontend)
    }

    /// The methods `path` serves (HEAD with GET), without OPTIONS; empty when no route has that path.
    func routeMethods(_ path: String) -> [HTTPMethod] {
        var methods: [HTTPMethod] = []
        for r in routes where r.path.matches(path) && !methods.contains(r.method) { methods.append(r.method) }
        if methods.contains(.get) && !methods.contains(.head) { methods.append(.head) }
        return methods
    }

    /// The methods allowed on `path` (for 405's and OPTIONS' Allow): its routes' and OPTIONS; empty when
    /// no route has that path.
    func allowedMethods(_ path: String) -> [HTTPMethod] {
        let methods = routeMethods(path)
        return methods.isEmpty ? [] : methods + [.options]
    }

    func handle(_ request: HTTPRequest, _ response: HTTPResponseWriter) async {
        let started = ContinuousClock.now
        let requestID = Self.requestID(request.headers["X-Request-ID"])
        let method = request.method == .head ? HTTPMethod.get : request.method
        let route = routes.first { $0.method == method && $0.path.matches(request.path) }
        let label = route?.path.label ?? routes.first { $0.path.matches(request.path) }?.path.label ?? "other"
        let span = Self.startSpan(request, method: method, route: label)
        let log = frontend.logger.with(["request_id": .string(requestID), "trace_id": .string(span.traceIDHex),
                                        "span_id": .string(span.spanIDHex)])
        if request.headers["traceparent"] != nil && span.parentSpanID == nil {
            log.debug("malformed traceparent replaced by a new trace", ["traceparent": .string(String((request.headers["traceparent"] ?? "").prefix(100)))])
        }
        var status = 200
        let access = AccessRecord(started: started)
        var principalName: String?
        var answeredBy: AnsweringDeployment?
        // CORS headers go on every reply of an allowed origin, errors included, so a browser can read them.
        var replyHeaders = cors.responseHeaders(origin: request.headers["Origin"])
        // The request once routed: its admission's rate-limit headers go on its error reply too (a 429's above all).
        var admitted: RequestContext?
        replyHeaders.add(name: "traceparent", value: TraceParent.format(span.context))
        do {
            if request.method == .options {
                status = try options(request, response, requestID: requestID, replyHeaders: &replyHeaders)
            } else {
                guard let route else {
                    let allowed = allowedMethods(request.path)
                    if allowed.isEmpty { throw APIError.notFound("no route \(request.path.prefix(200))") }
                    throw APIError.methodNotAllowed(request.method, allowed: allowed)
                }
                let principal = try frontend.authenticator.authenticate(request, access: route.access)
                principalName = principal?.name
                let context = RequestContext(request: request, response: response, requestID: requestID, principal: principal,
                                             replyHeaders: replyHeaders, span: span, logger: log)
                admitted = context
                answeredBy = context.answeredBy
                // Whatever happens, the request's reservation ends with it (completion, error, cancel,
                // disconnect): before an error reply; after a reply that did not end it (an idempotent
                // replay, a stream cut short), below, once the request is counted. The bookkeeping the
                // route left for after its reply (a store, a settlement) runs first, in the request's trace.
                status = try await TraceContext.$current.withValue(span.context) {
                    try await Span.$current.withValue(span) {
                        try await AccessRecord.$current.withValue(access) {
                            do {
                                let status = try await route.handler(context)
                                await context.afterReply.run()
                                return status
                            } catch {
                                await context.afterReply.run()
                                await frontend.closeAdmission(context)
                                throw error
                            }
                        }
                    }
                }
            }
        } catch {
            if response.isClosed {
                // The client went away before the reply was complete: its work is cancelled with it.
                // 499 (nginx's "client closed request") keeps these apart from real failures in metrics.
                status = 499
                log.info("client closed the connection before the reply was complete", ["route": .string(label)])
            } else {
                let e = APIError.from(error)
                status = e.status.code
                if !response.hasResponded {
                    var headers: HTTPHeaders = ["Content-Type": "application/json", "X-Request-ID": requestID]
                    for f in replyHeaders { headers.add(name: f.name, value: f.value) }
                    for f in admitted?.admission.headers() ?? HTTPHeaders() { headers.add(name: f.name, value: f.value) }
                    for f in e.headers { headers.add(name: f.name, value: f.value) }
                    try? response.respond(status: e.status, headers: headers, body: e.body(requestID: requestID))
                }
                if status >= 500 {
                    log.warn("request failed: \(e.message)", ["status": LogValue(status)])
                }
            }
        }
        let elapsed = Self.seconds(started.duration(to: .now))
        span.set("http.response.status_code", .int(status))
        if status >= 500 {
            span.set("error.type", .string(String(status)))
            span.setStatus(.error("HTTP \(status)"))
        }
        span.end()
        frontend.requests.increment([MetricLabel("route", label), MetricLabel("status", String(status))])
        frontend.duration.observe(elapsed, [MetricLabel("route", label)], exemplar: span.exemplar)
        if let admitted { await frontend.closeAdmission(admitted) }
        access.log(log, method: String(request.method.rawValue.prefix(20)), route: label, status: status, seconds: elapsed,
                   key: principalName, deployment: answeredBy?.route?.deployment)
    }

    /// The request's server span: a child of the client's valid `traceparent`, else the root of a new trace.
    static func startSpan(_ request: HTTPRequest, method: HTTPMethod, route: String) -> Span {
        let parent = request.headers["traceparent"].flatMap { TraceParent.parse($0, state: request.headers["tracestate"]) }
        return Tracer.global.startSpan("\(method.rawValue) \(route)", kind: .server, parent: parent, attributes: [
            "http.request.method": .string(method.rawValue), "http.route": .string(route),
            "url.path": .string(String(request.path.prefix(256))), "client.address": .string(request.remoteAddress),
        ])
    }

    /// `OPTIONS`: a CORS preflight (with `Origin` and `Access-Control-Request-Method`), or a question about
    /// the methods of a path (`Allow`) or of the whole server (`OPTIONS *`). Needs no credentials.
    /// - Returns: the status sent (204); throws 404 for a path no route serves, 403 for a preflight from
    ///   an origin `CORS_ORIGINS` does not allow.
    private func options(_ request: HTTPRequest, _ response: HTTPResponseWriter, requestID: String,
                         replyHeaders: inout HTTPHeaders) throws -> Int {
        var headers: HTTPHeaders = ["X-Request-ID": requestID]
        if request.path == "*" {
            var all: [HTTPMethod] = []
            for r in routes where !all.contains(r.method) { all.append(r.method) }
            if all.contains(.get) { all.append(.head) }
            headers.add(name: "Allow", value: (all + [.options]).map(\.rawValue).joined(separator: ", "))
            try response.respond(status: .noContent, headers: headers)
            return 204
        }
        let methods = routeMethods(request.path)
        if methods.isEmpty { throw APIError.notFound("no route \(request.path.prefix(200))") }
        if let origin = request.headers["Origin"], request.headers.contains("Access-Control-Request-Method") {
            guard cors.allows(origin) else {
                replyHeaders = HTTPHeaders()  // a refused preflight gets no CORS header at all
                throw APIError(status: .forbidden, message: "origin \(origin.prefix(200)) is not allowed to call this API (CORS_ORIGINS)",
                               type: "invalid_request_error", code: "cors_origin_not_allowed", param: nil)
            }
            for f in cors.preflightHeaders(origin: origin, methods: methods, requestedHeaders: request.headers["Access-Control-Request-Headers"]) {
                headers.add(name: f.name, value: f.value)
            }
        } else {
            for f in replyHeaders { headers.add(name: f.name, value: f.value) }
        }
        headers.add(name: "Allow", value: (methods + [.options]).map(\.rawValue).joined(separator: ", "))
        try response.respond(status: .noContent, headers: headers)
        return 204
    }

    /// The client's X-Request-ID when it is safe to echo (1-128 of [A-Za-z0-9._-]), else a new one.
    static func requestID(_ given: String?) -> String {
        if let g = given, (1...128).contains(g.utf8.count),
           g.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 || $0 == 95 }) {
            return g
        }
        return newRequestID()
    }

    /// A new request id: 128 random bits in hex (32 characters).
    static func newRequestID() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(rng.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.utf8.count) + hex
        }.joined()
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
