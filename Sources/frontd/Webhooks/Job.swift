import Crypto
import IPC
import Services

/// Where an asynchronous job is.
enum JobStatus: String, Sendable {
    case queued, running, succeeded, failed
}

/// What a successful job produced.
struct JobResult: Sendable, Equatable {
    var model: String
    var output: String
    var finishReason: String
    var promptTokens: Int
    var completionTokens: Int

    init(model: String, _ c: CachedCompletion) {
        self.model = model
        output = c.content
        finishReason = c.finishReason
        promptTokens = c.promptTokens
        completionTokens = c.completionTokens
    }

    init?(json o: JSONObject) {
        guard let model = o["model"]?.string, let output = o["output"]?.string, let finish = o["finish_reason"]?.string,
              let usage = o["usage"]?.object, let p = usage["prompt_tokens"]?.integer,
              let c = usage["completion_tokens"]?.integer else { return nil }
        self.model = model
        self.output = output
        finishReason = finish
        promptTokens = p
        completionTokens = c
    }

    /// `{"model", "output", "finish_reason", "usage": {...}}`.
    var json: String {
        #"{"model":\#(JSONText.string(model)),"output":\#(JSONText.string(output)),"finish_reason":\#(JSONText.string(finishReason)),"#
            + #""usage":{"prompt_tokens":\#(promptTokens),"completion_tokens":\#(completionTokens),"total_tokens":\#(promptTokens + completionTokens)}}"#
    }
}

/// Why a job failed: the error a synchronous request would have been answered with.
struct JobFailure: Sendable, Equatable {
    /// The HTTP status the error would have had.
    var status: Int
    var message: String
    var type: String
    var code: String?
    var param: String?

    init(_ e: APIError) {
        status = e.status.code
        message = e.message
        type = e.type
        code = e.code
        param = e.param
    }

    init?(json o: JSONObject) {
        guard let message = o["message"]?.string, let type = o["type"]?.string,
              let status = o["status"]?.integer else { return nil }
        self.status = status
        self.message = message
        self.type = type
        code = o["code"]?.string
        param = o["param"]?.string
    }

    /// `{"message", "type", "code", "param", "status"}`.
    var json: String {
        #"{"message":\#(JSONText.string(message)),"type":\#(JSONText.string(type)),"code":\#(JSONText.optional(code)),"#
            + #""param":\#(JSONText.optional(param)),"status":\#(status)}"#
    }
}

/// How a job ended.
enum JobOutcome: Sendable, Equatable {
    case succeeded(JobResult)
    case failed(JobFailure)

    var status: JobStatus {
        switch self {
        case .succeeded: .succeeded
        case .failed: .failed
        }
    }
}

/// One asynchronous generation started by a webhook event.
struct Job: Sendable {
    let id: String
    /// The event that started it.
    let eventID: String
    /// What to generate; nil for a finished job read back from the journal (only its outcome is kept),
    /// or for one whose request can no longer run (`unrunnable` says why).
    let generate: GenerationProtocol.Generate?
    /// Why a job recovered from the journal cannot run (its model left the registry, say).
    var unrunnable: APIError?
    /// Seconds since the epoch.
    let created: Int
    var status: JobStatus = .queued
    var finished: Int?
    var outcome: JobOutcome?

    init(id: String, eventID: String, generate: GenerationProtocol.Generate?, created: Int) {
        self.id = id
        self.eventID = eventID
        self.generate = generate
        self.created = created
    }

    /// A finished job read back from the journal.
    init(_ entry: JournalRecord.JobEntry) {
        id = entry.jobID
        eventID = entry.eventID
        generate = nil
        created = entry.created
        status = entry.outcome.status
        finished = entry.finished
        outcome = entry.outcome
    }

    /// A new job id: 96 random bits, so ids cannot be guessed.
    static func newID() -> String {
        var rng = SystemRandomNumberGenerator()
        let a: UInt64 = rng.next(), b: UInt32 = rng.next()
        return "job_" + Hex.encode((0..<8).map { UInt8(truncatingIfNeeded: a >> (8 * $0)) } + (0..<4).map { UInt8(truncatingIfNeeded: b >> (8 * $0)) })
    }

    /// The reply of `GET /v1/jobs/{id}`:
    /// `{"id", "event_id", "status", "result": {...} | null, "error": {...} | null, "created", "finished"}`.
    var json: String {
        var result = "null", error = "null"
        switch outcome {
        case .succeeded(let r): result = r.json
        case .failed(let e): error = e.json
        case nil: break
        }
        return #"{"id":\#(JSONText.string(id)),"event_id":\#(JSONText.string(eventID)),"status":\#(JSONText.string(status.rawValue)),"#
            + #""result":\#(result),"error":\#(error),"created":\#(created),"finished":\#(finished.map(String.init) ?? "null")}"#
    }
}
