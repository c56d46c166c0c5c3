import Foundation
import HTTP
import IPC

/// Dispatches a request to its route: request id, authentication and scope, 404/405, one JSON error
/// shape for every failure, and the per-route metrics.
struct Router: Sendable {
    let frontend: Frontend
    let routes: [Route]

    init(frontend: Frontend) {
        self.frontend = frontend
        routes = RouteTable.routes(frontend)
    }

    /// The methods allowed on `path` (for 405's Allow), empty when no route has that path.
    func allowedMethods(_ path: String) -> [HTTPMethod] {
        var methods: [HTTPMethod] = []
        for r in routes where r.path.matches(path) && !methods.contains(r.method) { methods.append(r.method) }
        if methods.contains(.get) && !methods.contains(.head) { methods.append(.head) }
        return methods
    }

    func handle(_ request: HTTPRequest, _ response: HTTPResponseWriter) async {
        let started = ContinuousClock.now
        let requestID = Self.requestID(request.headers["X-Request-ID"])
        let method = request.method == .head ? HTTPMethod.get : request.method
        let route = routes.first { $0.method == method && $0.path.matches(request.path) }
        let label = route?.path.label ?? routes.first { $0.path.matches(request.path) }?.path.label ?? "other"
        var status = 200
        let replyHeaders = HTTPHeaders()
        do {
            guard let route else {
                let allowed = allowedMethods(request.path)
                if allowed.isEmpty { throw APIError.notFound("no route \(request.path)") }
                throw APIError.methodNotAllowed(request.method, allowed: allowed)
            }
            let principal = try frontend.authenticator.authenticate(request, access: route.access)
            let context = RequestContext(request: request, response: response, requestID: requestID, principal: principal, replyHeaders: replyHeaders)
            status = try await route.handler(context)
        } catch {
            let e = APIError.from(error)
            status = e.status.code
            if !response.hasResponded {
                var headers: HTTPHeaders = ["Content-Type": "application/json", "X-Request-ID": requestID]
                for f in replyHeaders { headers.add(name: f.name, value: f.value) }
                for f in e.headers { headers.add(name: f.name, value: f.value) }
                try? response.respond(status: e.status, headers: headers, body: e.body(requestID: requestID))
            }
            if status >= 500 {
                frontend.logger.with(requestID: requestID, traceID: nil).warn("request failed: \(e.message)", ["status": LogValue(status)])
            }
        }
        frontend.requests.increment([MetricLabel("route", label), MetricLabel("status", String(status))])
        frontend.duration.observe(Self.seconds(started.duration(to: .now)), [MetricLabel("route", label)])
    }

    /// The client's X-Request-ID when it is safe to echo (1-128 of [A-Za-z0-9._-]), else a new one.
    static func requestID(_ given: String?) -> String {
        if let g = given, (1...128).contains(g.utf8.count),
           g.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 || $0 == 95 }) {
            return g
        }
        var rng = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(rng.next() as UInt64, radix: 16) }.joined()
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
