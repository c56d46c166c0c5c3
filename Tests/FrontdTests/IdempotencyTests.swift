import HTTP
import IPC
import Testing

@testable import frontd
import Registry
import Wire

@Suite struct IdempotencyTests {
    static let key = IdempotencyKey(scope: "key:abc", key: "k1", fingerprint: "fp")

    @Test("keys are scoped by caller: the same key from two callers is two records")
    func scoped() {
        let a = IdempotencyKey(scope: "key:abc", key: "k1", fingerprint: "fp")
        let b = IdempotencyKey(scope: "key:def", key: "k1", fingerprint: "fp")
        #expect(a.recordKey != b.recordKey)
        #expect(a.recordKey.hasPrefix("idempotency/") && a.recordKey.count == "idempotency/".count + 64)
        // No model may be named like the records' label, so clearing one model's entries keeps them.
        #expect(!ModelRegistry.isValidModelName(IdempotencyKey.cacheModel))
    }

    @Test("the first caller owns a key; a duplicate waits and gets the owner's record")
    func waiterGetsRecord() async {
        let table = IdempotencyInFlight()
        guard case .owner = await table.acquire(Self.key) else { Issue.record("not owner"); return }
        let waiter = Task { await table.acquire(Self.key) }
        #expect(await parked(table))
        let record = IdempotencyRecord(fingerprint: "fp", status: 200, headers: [HTTPHeaders.Field(name: "X-Cache", value: "MISS")], body: Array("{}".utf8))
        table.release(Self.key, record: record)
        guard case .finished(let got) = await waiter.value else { Issue.record("waiter not finished"); return }
        #expect(got == record)
        #expect(table.count == 0)
        guard case .owner = await table.acquire(Self.key) else { Issue.record("key not free after release"); return }
        table.release(Self.key, record: nil)
    }

    /// Waits (up to 10 s) until one request waits for the key's owner.
    private func parked(_ table: IdempotencyInFlight) async -> Bool {
        for _ in 0..<1000 {
            if table.waiting(Self.key) == 1 { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test("a duplicate with another fingerprint while the first runs is a conflict; a failed owner frees the key")
    func conflictAndFailure() async {
        let table = IdempotencyInFlight()
        _ = await table.acquire(Self.key)
        let other = IdempotencyKey(scope: "key:abc", key: "k1", fingerprint: "other")
        guard case .conflict = await table.acquire(other) else { Issue.record("no conflict"); return }
        let waiter = Task { await table.acquire(Self.key) }
        #expect(await parked(table))
        table.release(Self.key, record: nil)
        guard case .finished(nil) = await waiter.value else { Issue.record("waiter should see a failure"); return }
    }

    @Test("records round trip through the wire codec")
    func recordRoundTrip() throws {
        let record = IdempotencyRecord(fingerprint: "abc", status: 200, headers: [HTTPHeaders.Field(name: "X-Cache", value: "HIT")],
                                       body: Array(#"{"id":"x"}"#.utf8))
        #expect(try IdempotencyRecord(decoding: record.encoded()) == record)
        #expect(throws: WireError.self) { try IdempotencyRecord(decoding: Array(record.encoded().dropLast())) }
    }

    @Test("Idempotency-Key header wins over request_id; bad headers are refused")
    func keyFromRequest() throws {
        func request(_ headers: HTTPHeaders) -> HTTPRequest {
            HTTPRequest(method: .post, path: "/v1/infer", headers: headers)
        }
        #expect(try IdempotencyKey.key(request(["Idempotency-Key": "h"]), bodyKey: "b") == "h")
        #expect(try IdempotencyKey.key(request([:]), bodyKey: "b") == "b")
        #expect(try IdempotencyKey.key(request([:]), bodyKey: nil) == nil)
        #expect(throws: APIError.self) { try IdempotencyKey.key(request(["Idempotency-Key": "a b"]), bodyKey: nil) }
        #expect(throws: APIError.self) { try IdempotencyKey.key(request(["Idempotency-Key": String(repeating: "k", count: 256)]), bodyKey: nil) }
    }
}
