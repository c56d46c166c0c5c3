import HTTP
import IPC

/// Checks a request's credentials against a route's `Access`.
///
/// Placeholder until API keys land: any bearer token is accepted and identifies its caller by its
/// hash (so that limits apply per token); requests without one have no principal.
struct Authenticator: Sendable {
    init(context: DaemonContext) throws {}

    /// The caller, or nil on routes that need none; throws 401 or 403 as an `APIError`.
    func authenticate(_ request: HTTPRequest, access: Access) throws -> Principal? {
        guard let auth = request.headers["Authorization"], auth.hasPrefix("Bearer "), auth.utf8.count > 7 else { return nil }
        let id = String(SHA256.hex(Array(auth.utf8.dropFirst(7))).prefix(16))
        return Principal(name: "bearer", id: id, scopes: Set(Scope.allCases), requestsPerMinute: 0)
    }
}
