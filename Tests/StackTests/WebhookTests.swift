import Foundation
import Glibc
import IPC
import Testing
import TestKit

import Crypto

/// docs/webhooks.md.
private let webhookDocsPath = packageRoot + "/docs/webhooks.md"

/// The code block that follows `<!-- tested: NAME -->` in docs/webhooks.md.
private func documentedExample(_ name: String) throws -> String {
    let text = try String(contentsOfFile: webhookDocsPath, encoding: .utf8)
    guard let marker = text.range(of: "<!-- tested: \(name) -->") else { throw HarnessError("no example \(name) in docs/webhooks.md") }
    let rest = text[marker.upperBound...]
    guard let fence = rest.range(of: "```"), let firstLine = rest[fence.upperBound...].firstIndex(of: "\n"),
          let close = rest[firstLine...].range(of: "\n```") else {
        throw HarnessError("the example \(name) in docs/webhooks.md is not a fenced code block")
    }
    return String(rest[rest.index(after: firstLine)..<close.lowerBound])
}

/// Runs a program to the end; its exit status and what it wrote (stdout then stderr).
private func runProgram(_ path: String, _ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
    let run = try runCapturing(path, arguments, environment: environment, separateError: true)
    return (run.status ?? -1, run.output + run.error)
}

/// The JSON object a reply's body holds.
private func object(_ body: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
}

/// POST /webhooks/ingest and GET /v1/jobs/{id} through the real daemons under `inferctl up`, driven with
/// curl, openssl and Debian's python3, as docs/webhooks.md tells a sender to.
@Suite("webhooks and jobs under inferctl up", .serialized)
struct WebhookTests {
    static let secret = "whsec-integration-0123456789"

    /// A signed delivery: curl's arguments for the body, signed at `timestamp` with `secret`.
    static func signed(_ body: String, timestamp: Int = Int(Date().timeIntervalSince1970), secret: String = secret,
                       url: String) -> [String] {
        let mac = HMAC.authenticationCode(for: Array("\(timestamp).\(body)".utf8), key: Array(secret.utf8))
        return ["-H", "Content-Type: application/json", "-H", "X-Infer-Timestamp: \(timestamp)",
                "-H", "X-Infer-Signature: sha256=\(Hex.encode(mac))", "--data-binary", body, url + "/webhooks/ingest"]
    }

    /// The ids of the events in the journal.
    static func journalEventIDs(_ path: String) -> [String] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let o = object(String(line))
            return o["record"] as? String == "event" ? o["id"] as? String : nil
        }
    }

    /// Polls a job until it finishes (or 180 s pass); its last reply.
    static func finishedJob(_ id: String, url: String) -> [String: Any] {
        var job: [String: Any] = [:]
        let deadline = ContinuousClock.now + .seconds(180)
        while ContinuousClock.now < deadline {
            let r = curl(["-H", "Authorization: Bearer webhook-test", url + "/v1/jobs/" + id])
            job = object(r.body)
            if r.status != 200 || ["succeeded", "failed"].contains(job["status"] as? String ?? "") { return job }
            usleep(100_000)
        }
        return job
    }

    static func expectSucceeded(_ job: [String: Any], id: String) {
        #expect(job["id"] as? String == id)
        #expect(job["status"] as? String == "succeeded", "\(job)")
        let result = job["result"] as? [String: Any]
        let output = result?["output"] as? String ?? ""
        #expect(!output.isEmpty, "\(job)")
        let usage = result?["usage"] as? [String: Any]
        #expect((usage?["prompt_tokens"] as? Int ?? 0) > 0 && (usage?["completion_tokens"] as? Int ?? 0) > 0)
        #expect(usage?["total_tokens"] as? Int == (usage?["prompt_tokens"] as? Int ?? 0) + (usage?["completion_tokens"] as? Int ?? 0))
        #expect(job["error"] is NSNull)
        #expect((job["finished"] as? Int ?? 0) >= (job["created"] as? Int ?? Int.max))
    }

    @Test("signed events are journaled and answered 202; bad, stale, replayed, malformed and oversized ones are refused; jobs run; a restart remembers")
    func ingestAndJobs() throws {
        let run = try StackRun(models: [("smollm2", "chat")],
                               environmentFile: ["WEBHOOK_HMAC_SECRET=\(Self.secret)", "WEBHOOK_MAX_BODY_BYTES=4096"], realDaemons: true, apiKeys: [.fixed("webhook-test")])
        #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        let url = "http://127.0.0.1:\(port)"
        let journal = run.runtimeDirectory + "/state/webhooks/events.jsonl"

        // A signed event: 202, and its line is in the journal by the time the 202 arrives.
        let ping = #"{"id":"evt_ping_1","type":"order.created","data":{"order":42}}"#
        let accepted = curl(Self.signed(ping, url: url))
        #expect(accepted.status == 202, "\(accepted.body)")
        #expect(object(accepted.body)["id"] as? String == "evt_ping_1" && object(accepted.body)["status"] as? String == "accepted")
        #expect(object(accepted.body)["job_id"] is NSNull)
        #expect(accepted.headers["x-request-id"] != nil)
        #expect(Self.journalEventIDs(journal) == ["evt_ping_1"])

        // The same delivery again: 409.
        let replayed = curl(Self.signed(ping, url: url))
        #expect(replayed.status == 409 && replayed.body.contains("event_replayed"), "\(replayed.body)")

        // Wrong secret, body changed after signing, no signature: 401 with a challenge, nothing journaled.
        let wrong = curl(Self.signed(#"{"id":"evt_bad","type":"x"}"#, secret: "not-the-secret-0123456789", url: url))
        #expect(wrong.status == 401 && wrong.body.contains("invalid_signature"), "\(wrong.body)")
        #expect(wrong.headers["www-authenticate"]?.hasPrefix("Signature") == true)
        var tampered = Self.signed(#"{"id":"evt_bad","type":"x"}"#, url: url)
        tampered[tampered.count - 2] = #"{"id":"evt_bad","type":"y"}"#
        #expect(curl(tampered).status == 401)
        let unsigned = curl(["-H", "Content-Type: application/json", "--data-binary", #"{"id":"evt_bad","type":"x"}"#, url + "/webhooks/ingest"])
        #expect(unsigned.status == 401 && unsigned.body.contains("missing_signature"))
        // A bearer key is no substitute for a signature.
        let bearer = curl(["-H", "Authorization: Bearer webhook-test", "-H", "Content-Type: application/json",
                           "--data-binary", #"{"id":"evt_bad","type":"x"}"#, url + "/webhooks/ingest"])
        #expect(bearer.status == 401)

        // Stale and future timestamps, correctly signed: 401 timestamp_out_of_window.
        let now = Int(Date().timeIntervalSince1970)
        for timestamp in [now - 3600, now + 3600] {
            let r = curl(Self.signed(#"{"id":"evt_clock","type":"x"}"#, timestamp: timestamp, url: url))
            #expect(r.status == 401 && r.body.contains("timestamp_out_of_window"), "\(r.status) \(r.body)")
        }

        // Signed but malformed: 400 (not JSON, no id), 422 (bad inference data), 413 (over WEBHOOK_MAX_BODY_BYTES).
        #expect(curl(Self.signed("{not json", url: url)).status == 400)
        let noID = curl(Self.signed(#"{"type":"x"}"#, url: url))
        #expect(noID.status == 400 && (object(noID.body)["error"] as? [String: Any])?["param"] as? String == "id")
        let badData = curl(Self.signed(#"{"id":"evt_422","type":"inference.request","data":{"prompt":"x","params":{"temperature":9}}}"#, url: url))
        #expect(badData.status == 422 && badData.body.contains("data.params.temperature"), "\(badData.body)")
        let big = #"{"id":"evt_big","type":"x","data":{"pad":""# + String(repeating: "a", count: 5000) + #""}}"#
        #expect(curl(Self.signed(big, url: url)).status == 413)
        #expect(Self.journalEventIDs(journal) == ["evt_ping_1"], "only the accepted event is journaled")

        // An inference.request: 202 with a job id; the job runs through batchd and modeld.
        let request = #"{"id":"evt_job_1","type":"inference.request","data":{"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],"params":{"max_new_tokens":12,"temperature":0}}}"#
        let started = curl(Self.signed(request, url: url))
        #expect(started.status == 202, "\(started.body)")
        let jobID = try #require(object(started.body)["job_id"] as? String)
        let job = Self.finishedJob(jobID, url: url)
        Self.expectSucceeded(job, id: jobID)
        let answer = (job["result"] as? [String: Any])?["output"] as? String ?? ""
        #expect(answer.contains("Paris"), "\(job)")
        let unknown = curl(["-H", "Authorization: Bearer webhook-test", url + "/v1/jobs/job_000000000000000000000000"])
        #expect(unknown.status == 404 && unknown.body.contains("job_not_found"))
        // The job's end is journaled.
        let lines = ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").split(separator: "\n").map { object(String($0)) }
        #expect(lines.contains { $0["record"] as? String == "job" && $0["job_id"] as? String == jobID && $0["status"] as? String == "succeeded" })

        // frontd killed and restarted by inferctl: it rebuilds the seen ids and the finished job from the journal.
        let pid = try #require(run.pid("frontd"))
        kill(pid, SIGKILL)
        #expect(run.wait(.seconds(30)) { run.pid("frontd") != nil && run.pid("frontd") != pid && curl([url + "/health"], timeout: 2).status == 200 })
        let afterRestart = curl(Self.signed(ping, url: url))
        #expect(afterRestart.status == 409, "a replay after the restart: \(afterRestart.status) \(afterRestart.body)")
        Self.expectSucceeded(Self.finishedJob(jobID, url: url), id: jobID)
        let fresh = curl(Self.signed(#"{"id":"evt_ping_2","type":"order.created"}"#, url: url))
        #expect(fresh.status == 202)
        #expect(Self.journalEventIDs(journal) == ["evt_ping_1", "evt_job_1", "evt_ping_2"])
        #expect(run.stop() == 0)
    }

    @Test("the signing examples of docs/webhooks.md, run as written with openssl + curl and with python3, are accepted")
    func documentedExamples() throws {
        let run = try StackRun(models: [("smollm2", "chat")], environmentFile: ["WEBHOOK_HMAC_SECRET=\(Self.secret)"], realDaemons: true, apiKeys: [.fixed("webhook-test")])
        #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        let url = "http://127.0.0.1:\(port)"
        let environment = ["PATH": "/usr/bin:/bin", "WEBHOOK_HMAC_SECRET": Self.secret, "INFER_URL": url, "INFER_API_KEY": "webhook-test"]

        let shell = try runProgram("/bin/bash", ["-c", try documentedExample("shell")], environment: environment)
        #expect(shell.status == 0, "\(shell.output)")
        #expect(shell.output.contains("HTTP/1.1 202 Accepted"), "\(shell.output)")
        let shellReply = object(String(shell.output[(shell.output.range(of: "\r\n\r\n")?.upperBound ?? shell.output.startIndex)...]))
        #expect(shellReply["status"] as? String == "accepted")
        let shellJob = try #require(shellReply["job_id"] as? String, "\(shell.output)")

        let python = try runProgram("/usr/bin/python3", ["-c", try documentedExample("python")], environment: environment)
        #expect(python.status == 0, "\(python.output)")
        #expect(python.output.hasPrefix("202 "), "\(python.output)")
        let pythonReply = object(String(python.output.dropFirst(4)))
        let pythonJob = try #require(pythonReply["job_id"] as? String, "\(python.output)")

        // The documented poll of a job, run as written.
        let poll = try runProgram("/bin/bash", ["-c", try documentedExample("poll")], environment: environment.merging(["JOB_ID": shellJob]) { $1 })
        #expect(poll.status == 0 && object(poll.output)["id"] as? String == shellJob, "\(poll.output)")

        for id in [shellJob, pythonJob] { Self.expectSucceeded(Self.finishedJob(id, url: url), id: id) }
        #expect(run.stop() == 0)
    }

    @Test("without WEBHOOK_HMAC_SECRET the route accepts nothing: 503 webhooks_not_configured")
    func notConfigured() throws {
        let run = try StackRun(models: [("smollm2", "chat")], realDaemons: true, apiKeys: [.fixed("webhook-test")])
        #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
        let port = try #require(run.port("http"))
        let url = "http://127.0.0.1:\(port)"
        let r = curl(Self.signed(#"{"id":"evt_1","type":"x"}"#, url: url))
        #expect(r.status == 503 && r.body.contains("webhooks_not_configured") && r.body.contains("WEBHOOK_HMAC_SECRET"), "\(r.body)")
        #expect(Int(r.headers["retry-after"] ?? "") != nil)
        #expect(!FileManager.default.fileExists(atPath: run.runtimeDirectory + "/state/webhooks/events.jsonl"))
        #expect(run.stop() == 0)
    }
}
