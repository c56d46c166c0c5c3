import IPC
import Wire
/// limitd's messages: admission of one request for a client key, and settling of the tokens it used.
public enum LimitProtocol {
    /// Asks whether `key` may make a request now. Reply: `AdmitReply`.
    public struct Admit: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 1
        /// Who is limited: an API key's id or the client's address.
        public var key: String
        /// The route, for per-route accounting.
        public var route: String
        /// Requests per minute allowed for this key, or 0 for limitd's default (RATE_LIMIT_RPM).
        public var requestsPerMinute: UInt32

        public init() { self.init(key: "", route: "") }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&key, .string(maxLength: 512))
            try v.field(&route, .string(maxLength: 512))
            try v.field(&requestsPerMinute, .uint32)
        }

        public init(key: String, route: String, requestsPerMinute: UInt32 = 0) {
            self.key = key
            self.route = route
            self.requestsPerMinute = requestsPerMinute
        }
    }

    /// limitd's decision.
    public struct AdmitReply: WireFields, Equatable {
        public var allowed: Bool
        /// Requests allowed per window.
        public var limit: UInt32
        /// Requests left in the current window after this one.
        public var remaining: UInt32
        /// When refused: milliseconds until a request would be allowed.
        public var retryAfterMs: UInt32

        public init() { self.init(allowed: false, limit: 0, remaining: 0, retryAfterMs: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&allowed, .bool)
            try v.field(&limit, .uint32)
            try v.field(&remaining, .uint32)
            try v.field(&retryAfterMs, .uint32)
        }

        public init(allowed: Bool, limit: UInt32, remaining: UInt32, retryAfterMs: UInt32) {
            self.allowed = allowed
            self.limit = limit
            self.remaining = remaining
            self.retryAfterMs = retryAfterMs
        }
    }

    /// Reports the tokens a finished request really used. Reply: empty.
    public struct Settle: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 2
        public var key: String
        public var promptTokens: UInt32
        public var completionTokens: UInt32

        public init() { self.init(key: "", promptTokens: 0, completionTokens: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&key, .string(maxLength: 512))
            try v.field(&promptTokens, .uint32)
            try v.field(&completionTokens, .uint32)
        }

        public init(key: String, promptTokens: UInt32, completionTokens: UInt32) {
            self.key = key
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
        }
    }
}

/// The client stub for limitd: how frontd asks it.
public struct LimitClient: Sendable {
    public let client: IPCClient
    public init(path: String) {
        client = IPCClient(path: path, protocolName: ServiceName.limitd, version: ServiceName.version)
    }

    /// Asks for admission of one request.
    public func admit(_ request: LimitProtocol.Admit, timeout: Duration) async throws -> LimitProtocol.AdmitReply {
        try await client.call(request, returning: LimitProtocol.AdmitReply.self, timeout: timeout)
    }

    /// Reports the tokens a request used.
    public func settle(_ request: LimitProtocol.Settle, timeout: Duration) async throws {
        _ = try await client.call(type: LimitProtocol.Settle.type, payload: request.encoded(), timeout: timeout)
    }

    /// Asks for admission of one request with a reservation of what it may use.
    /// - Throws: ``IPCError``; `.remote` with ``IPCErrorCode/unknownType`` from a limitd older than
    ///   reservations (the caller then falls back to ``admit(_:timeout:)``).
    public func reserve(_ request: LimitProtocol.Reserve, timeout: Duration) async throws -> LimitProtocol.ReserveReply {
        try await client.call(request, returning: LimitProtocol.ReserveReply.self, timeout: timeout)
    }

    /// Admits a request the cache answered, holding nothing (no ``commit(_:timeout:)`` follows).
    /// - Throws: ``IPCError``; `.remote` with ``IPCErrorCode/unknownType`` from a limitd older than it (the
    ///   caller then reserves instead).
    public func admitCached(_ request: LimitProtocol.AdmitCached, timeout: Duration) async throws -> LimitProtocol.ReserveReply {
        try await client.call(request, returning: LimitProtocol.ReserveReply.self, timeout: timeout)
    }

    /// Settles a reservation; returns once limitd has the charge on disk.
    public func commit(_ request: LimitProtocol.Commit, timeout: Duration) async throws {
        _ = try await client.call(type: LimitProtocol.Commit.type, payload: request.encoded(), timeout: timeout)
    }

    /// Where a key stands.
    public func usage(_ request: LimitProtocol.Usage, timeout: Duration) async throws -> LimitProtocol.UsageReply {
        try await client.call(request, returning: LimitProtocol.UsageReply.self, timeout: timeout)
    }

    /// Every charged key's spend.
    public func spendList(timeout: Duration) async throws -> LimitProtocol.SpendListReply {
        try await client.call(LimitProtocol.SpendList(), returning: LimitProtocol.SpendListReply.self, timeout: timeout)
    }
}
