/// Where cached keeps entries: `CACHE_BACKEND`.
enum CacheBackend: String, CaseIterable, Sendable {
    /// In this process's memory, lost on restart.
    case memory
    /// A Redis server shared by every host (`REDIS_URL`); not implemented yet.
    case redis

    /// Whether this build can run the backend.
    var isImplemented: Bool {
        switch self {
        case .memory: true
        case .redis: false
        }
    }

    /// Reads a `CACHE_BACKEND` value: a backend this build implements, in any case.
    ///
    /// `redis` is refused here, at configuration time (so `--check-config` catches it and the daemon exits
    /// 78 before binding anything) rather than running without the shared tier the operator asked for.
    /// - Parameter text: The trimmed value.
    /// - Returns: The backend, or nil when it is unknown or not implemented yet.
    static func parseImplemented(_ text: String) -> CacheBackend? {
        guard let backend = CacheBackend(rawValue: text.lowercased()), backend.isImplemented else { return nil }
        return backend
    }

    /// What `CACHE_BACKEND` accepts, for the error an operator sees.
    static let expectation = "memory (the redis backend is not implemented yet)"
}
