import Basics
import IPC

extension Frontend {
    /// The gateway's version, as `GET /` reports it.
    static let version = InferVersion.string

    /// `GET /`: what this gateway is and the routes it serves.
    func root(_ c: RequestContext) throws -> Int {
        let routes = RouteTable.routes(self).map { JSONValue.string("\($0.method.rawValue) \($0.path.label)") }
        try c.send(.ok, json: ["name": "infer", "version": .string(Self.version), "routes": .array(routes), "docs": "docs/HTTP.md"])
        return 200
    }
}
