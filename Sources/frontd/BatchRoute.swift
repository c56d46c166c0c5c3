import HTTP
import IPC

extension Frontend {
    /// `POST /v1/batch`: up to 64 native requests in one call. The items run concurrently, so batchd can
    /// put them in the same model steps; each is answered or failed on its own (`results` in the items'
    /// order, with `index`). Every item's model is checked against the key's allow-list first (403
    /// naming `requests[i].model`). One limitd admission for the call; each item's tokens are settled. The call is
    /// idempotent by `Idempotency-Key`; an item by its own `request_id` (shared with `/v1/infer`).
    func batchInfer(_ c: RequestContext) async throws -> Int {
        let started = ContinuousClock.now
        let request = try BatchRequest(body: JSONBody.object(c.request), rules: requestRules)
        // The call's Cache-Control applies to every item.
        let control = try CacheControl(header: c.request.headers["Cache-Control"], body: nil)
        // Every item's model against the key's allow-list before anything runs: the reservation below is
        // on one item's model only, and an item must not reach the cache or a model its key may not use.
        for (i, item) in request.items.enumerated() {
            if case .success(let r) = item { try requireAllowed(c, model: r.model, param: "requests[\(i)].model") }
        }
        // One reservation for the call: every item's tokens, on the first valid item's model (a batch names one per item).
        let generates = request.items.compactMap { try? $0.get().generate(requestID: c.requestID) }
        try await admit(c, AdmissionRequest(
            route: "/v1/batch", model: generates.first?.model ?? "", promptTokens: generates.reduce(0) { $0 + $1.promptTokenBound },
            maxTokens: generates.reduce(0) { $0 + Int($1.parameters.maxTokens) }, partial: true))
        let key = try IdempotencyKey.key(c.request, bodyKey: nil)
            .map { IdempotencyKey(scope: c.clientKey, key: $0, fingerprint: request.fingerprint) }
        return try await answerOnce(c, key: key) {
            let outcomes = await withTaskGroup(of: (Int, String, Bool).self) { group in
                for (i, item) in request.items.enumerated() {
                    group.addTask { await self.batchItem(item, index: i, c, started: started, control: control) }
                }
                var all: [(Int, String, Bool)] = []
                for await o in group { all.append(o) }
                return all.sorted { $0.0 < $1.0 }
            }
            let succeeded = outcomes.count { $0.2 }
            let body = #"{"results":["# + outcomes.map(\.1).joined(separator: ",") + #"],"succeeded":\#(succeeded),"failed":\#(outcomes.count - succeeded)}"#
            // Every item settled its own usage: the call's reservation ends before the reply.
            await closeAdmission(c)
            return RouteReply(body: Array(body.utf8))
        }
    }

    /// One item's JSON and whether it succeeded.
    private func batchItem(_ item: Result<InferRequest, APIError>, index: Int, _ c: RequestContext,
                           started: ContinuousClock.Instant, control: CacheControl) async -> (Int, String, Bool) {
        do {
            let request = try item.get()
            let promptParam = "requests[\(index)].prompt"
            let generationID = "\(c.requestID)-\(index)"
            let result: String
            if let requestID = request.requestID {
                let key = IdempotencyKey(scope: c.clientKey, key: requestID, fingerprint: request.fingerprint)
                let (record, _) = try await once(key) {
                    let (json, _) = try await runInfer(request, id: requestID, c, started: started, control: control, generationID: generationID, promptParam: promptParam)
                    return IdempotencyRecord(fingerprint: key.fingerprint, status: 200, headers: [], body: Array(json.utf8))
                }
                result = String(decoding: record.body, as: UTF8.self)
            } else {
                result = try await runInfer(request, id: generationID, c, started: started, control: control, generationID: generationID, promptParam: promptParam).0
            }
            return (index, InferJSON.item(index: index, result: result), true)
        } catch {
            var e = APIError.from(error, promptParam: "requests[\(index)].prompt")
            // batchd's refusals name the body's fields; here they are the item's.
            if e.param == "model" { e = APIError(status: e.status, message: e.message, type: e.type, code: e.code, param: "requests[\(index)].model", retryAfter: e.retryAfter) }
            let body = String(decoding: e.body(requestID: c.requestID), as: UTF8.self)
            return (index, InferJSON.failedItem(index: index, status: e.status.code, errorBody: body), false)
        }
    }
}
