import HTTP
import IPC

extension Frontend {
    /// `POST /webhooks/ingest`: a signed event. Checked in this order: webhooks configured (503), body
    /// size (413), signature then timestamp (401), body (415/400; 422 for an `inference.request`'s
    /// data), replay (409); then journaled durably (503 if that fails) and answered 202
    /// `{"id", "status": "accepted", "job_id"}`. docs/webhooks.md.
    func ingestWebhook(_ c: RequestContext) async throws -> Int {
        let hooks = webhooks
        guard let verifier = hooks.verifier else {
            throw APIError(status: HTTPStatus(code: 503, reason: "Service Unavailable"),
                           message: "webhooks are not configured on this server: set WEBHOOK_HMAC_SECRET", type: "server_error",
                           code: "webhooks_not_configured", param: nil, retryAfter: 3600)
        }
        guard c.request.body.count <= hooks.maxBodyBytes else {
            throw APIError(status: HTTPStatus(code: 413, reason: "Content Too Large"),
                           message: "the webhook body is \(c.request.body.count) bytes; at most \(hooks.maxBodyBytes) are accepted",
                           type: "invalid_request_error", code: "payload_too_large", param: nil)
        }
        let now = hooks.clock()
        let verified: VerifiedWebhook
        do {
            verified = try verifier.verify(c.request, now: now)
        } catch {
            let e = error.apiError
            // 401 names its scheme; a webhook's is a signature, not a bearer token.
            try c.send(e.status, e.body(requestID: c.requestID),
                       extra: ["WWW-Authenticate": #"Signature realm="webhooks", headers="X-Infer-Timestamp X-Infer-Signature""#])
            return e.status.code
        }
        let timestamp = verified.timestamp
        let event = try WebhookEvent(body: JSONBody.object(c.request))
        var job: Job?
        if event.type == WebhookEvent.inferenceRequest {
            let id = Job.newID()
            let generate = try InferenceJobRequest.generate(event.data, requestID: id, rules: hooks.rules,
                                                            chatModels: hooks.chatModels)
            job = Job(id: id, eventID: event.id, generate: generate, created: now)
        }
        guard let journal = hooks.journal else {
            throw APIError.unavailable(hooks.journalProblem ?? "the event journal is unavailable", retryAfter: 30)
        }
        switch hooks.replay.claim(event.id, timestamp: timestamp, now: now) {
        case .claimed: break
        case .replayed:
            throw APIError(status: HTTPStatus(code: 409, reason: "Conflict"),
                           message: "event \(event.id) was already received; it is not processed twice",
                           type: "invalid_request_error", code: "event_replayed", param: "id")
        case .full:
            throw APIError.unavailable("too many events within the replay window; retry later", retryAfter: 5)
        }
        if let job, !hooks.jobs.add(job) {
            hooks.replay.release(event.id)
            throw APIError.unavailable("the job store is full of unfinished jobs; retry later", retryAfter: 5)
        }
        let record = JournalRecord.event(.init(id: event.id, type: event.type, timestamp: timestamp, received: now,
                                               jobID: job?.id, body: String(decoding: c.request.body, as: UTF8.self)))
        do {
            try await journal.append(record.line)
        } catch {
            hooks.replay.release(event.id)
            if let job { hooks.jobs.remove(job.id) }
            c.logger(logger).error("webhook event \(event.id) refused: \(error)")
            throw APIError.unavailable("the event could not be recorded durably; it was not accepted", retryAfter: 5)
        }
        if let job { hooks.runner.submit(job.id) }
        c.logger(logger).info("webhook event accepted", ["event_id": .string(event.id), "type": .string(event.type),
                                                          "job_id": .string(job?.id ?? ""),
                                                          // Which secret, never the secret: shows when senders have moved to the new one.
                                                          "secret": .string(verified.byPreviousSecret ? "previous" : "current")])
        let body = #"{"id":\#(JSONText.string(event.id)),"status":"accepted","job_id":\#(JSONText.optional(job?.id))}"#
        try c.send(HTTPStatus(code: 202, reason: "Accepted"), Array(body.utf8))
        return 202
    }

    /// `GET /v1/jobs/{id}`: a job's status, and its result or error once finished; 404 for an id not
    /// (or no longer) kept.
    func job(_ c: RequestContext) throws -> Int {
        let id = String(c.request.path.dropFirst("/v1/jobs/".count))
        guard let job = webhooks.jobs.job(id) else {
            throw APIError.notFound("no job \(id.prefix(128)) (unknown, or forgotten to make room for newer ones)", code: "job_not_found", param: "id")
        }
        try c.send(.ok, Array(job.json.utf8))
        return 200
    }
}
