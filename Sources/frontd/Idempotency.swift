import HTTP
import IPC
import Services

/// A generating route's reply before it is sent: what idempotency keeps and replays.
struct RouteReply: Sendable {
    var status: HTTPStatus = .ok
    /// Headers besides the ones every reply gets (e.g. `X-Cache`).
    var headers: HTTPHeaders = HTTPHeaders()
    var body: [UInt8]
}

extension APIError {
    /// 409: an idempotency key reused with a different request.
    static func idempotencyKeyReused(windowSeconds: Int) -> APIError {
        APIError(status: HTTPStatus(code: 409, reason: "Conflict"),
                 message: "this idempotency key was used with a different request in the last \(windowSeconds) s; use a new key",
                 type: "invalid_request_error", code: "idempotency_key_reused", param: nil)
    }
}

extension Frontend {
    /// Answers a request at most once per idempotency key within `IDEMPOTENCY_WINDOW_SEC`: the first
    /// request with a key runs `run`; a repeat gets the same status and body with `Idempotent-Replayed:
    /// true`; a repeat arriving while the first runs waits for it; a different request under the same key
    /// is a 409. Without a key, `run` is simply answered.
    /// - Returns: The status sent.
    func answerOnce(_ c: RequestContext, key: IdempotencyKey?, run: () async throws -> RouteReply) async throws -> Int {
        guard let key else {
            let reply = try await run()
            try c.send(reply.status, reply.body, extra: reply.headers)
            return reply.status.code
        }
        let (record, replayed) = try await once(key) {
            let reply = try await run()
            return IdempotencyRecord(fingerprint: key.fingerprint, status: UInt16(reply.status.code), headers: reply.headers.fields, body: reply.body)
        }
        var headers = HTTPHeaders(record.headers.map { ($0.name, $0.value) })
        if replayed { headers.add(name: "Idempotent-Replayed", value: "true") }
        try c.send(HTTPStatus(code: Int(record.status)), record.body, extra: headers)
        return Int(record.status)
    }

    /// The core of `answerOnce`, for callers that embed the reply (batch items): the record of the first
    /// run under `key`, and whether it is a replay.
    func once(_ key: IdempotencyKey, run: () async throws -> IdempotencyRecord) async throws -> (IdempotencyRecord, replayed: Bool) {
        while true {
            switch await idempotency.acquire(key) {
            case .conflict:
                throw APIError.idempotencyKeyReused(windowSeconds: idempotencyWindowSeconds)
            case .finished(let record?):
                return (try check(record, key), true)
            case .finished(nil):
                // The first request failed: this one runs (or waits for whoever got there first).
                continue
            case .owner:
                var shared: IdempotencyRecord?
                defer { idempotency.release(key, record: shared) }
                // Looked up as owner, so a request finishing between a lookup and the claim cannot be missed.
                if let stored = await storedRecord(key) {
                    shared = stored
                    return (try check(stored, key), true)
                }
                let record = try await run()
                // Only successes are kept: a failure (queue full, timeout) may be retried with the same key.
                if record.status == 200 {
                    shared = record
                    await storeRecord(record, key)
                }
                return (record, false)
            }
        }
    }

    private func check(_ record: IdempotencyRecord, _ key: IdempotencyKey) throws -> IdempotencyRecord {
        guard record.fingerprint == key.fingerprint else { throw APIError.idempotencyKeyReused(windowSeconds: idempotencyWindowSeconds) }
        return record
    }

    /// The record cached holds for `key`; cached down or an undecodable entry is none.
    private func storedRecord(_ key: IdempotencyKey) async -> IdempotencyRecord? {
        guard let reply = try? await cache.get(key.recordKey, timeout: dependencyTimeout), let value = reply.value else { return nil }
        return try? IdempotencyRecord(decoding: value)
    }

    /// Keeps a record in cached for the window (best effort: cached down means repeats run again).
    private func storeRecord(_ record: IdempotencyRecord, _ key: IdempotencyKey) async {
        let put = CacheProtocol.Put(key: key.recordKey, model: IdempotencyKey.cacheModel, value: record.encoded(),
                                    ttlSeconds: UInt32(clamping: idempotencyWindowSeconds))
        try? await cache.put(put, timeout: dependencyTimeout)
    }
}
