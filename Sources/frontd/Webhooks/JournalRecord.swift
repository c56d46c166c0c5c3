/// One line of the event journal: an accepted event, or a job's end. JSON, one object per line, so a
/// torn last line is recognisable and the file is readable with `jq`.
enum JournalRecord: Sendable, Equatable {
    case event(EventEntry)
    case job(JobEntry)

    /// An accepted webhook event, written before its 202.
    struct EventEntry: Sendable, Equatable {
        var id: String
        var type: String
        /// The signed timestamp (seconds since the epoch).
        var timestamp: Int
        /// When frontd accepted it (seconds since the epoch).
        var received: Int
        /// The job it started, if it was an `inference.request`.
        var jobID: String?
        /// The raw body as received (UTF-8 JSON text): enough to run its job again after a restart.
        var body: String
    }

    /// A job that finished: its outcome, so a restart neither runs it again nor forgets its result.
    struct JobEntry: Sendable, Equatable {
        var jobID: String
        var eventID: String
        var created: Int
        var finished: Int
        var outcome: JobOutcome
    }

    /// The record as one line, newline included. JSON strings escape every control character, so the
    /// only newline is the last byte.
    var line: [UInt8] {
        var s: String
        switch self {
        case .event(let e):
            s = #"{"record":"event","id":\#(JSONText.string(e.id)),"type":\#(JSONText.string(e.type)),"timestamp":\#(e.timestamp),"#
                + #""received":\#(e.received),"job_id":\#(JSONText.optional(e.jobID)),"body":\#(JSONText.string(e.body))}"#
        case .job(let j):
            s = #"{"record":"job","job_id":\#(JSONText.string(j.jobID)),"event_id":\#(JSONText.string(j.eventID)),"#
                + #""created":\#(j.created),"finished":\#(j.finished),"status":\#(JSONText.string(j.outcome.status.rawValue)),"#
            switch j.outcome {
            case .succeeded(let r): s += #""result":\#(r.json)}"#
            case .failed(let e): s += #""error":\#(e.json)}"#
            }
        }
        return Array((s + "\n").utf8)
    }

    /// Reads one line (without its newline); nil when it is not a complete, well-formed record.
    init?(line: some Collection<UInt8>) {
        guard let o = try? JSONBody.object(Array(line)) else { return nil }
        switch o["record"]?.string {
        case "event":
            guard let id = o["id"]?.string, let type = o["type"]?.string, let timestamp = o["timestamp"]?.integer,
                  let received = o["received"]?.integer, let body = o["body"]?.string else { return nil }
            let jobID = o["job_id"]?.string
            self = .event(EventEntry(id: id, type: type, timestamp: timestamp, received: received, jobID: jobID, body: body))
        case "job":
            guard let jobID = o["job_id"]?.string, let eventID = o["event_id"]?.string,
                  let created = o["created"]?.integer, let finished = o["finished"]?.integer else { return nil }
            let outcome: JobOutcome
            switch o["status"]?.string {
            case JobStatus.succeeded.rawValue:
                guard let r = o["result"]?.object.flatMap(JobResult.init(json:)) else { return nil }
                outcome = .succeeded(r)
            case JobStatus.failed.rawValue:
                guard let e = o["error"]?.object.flatMap(JobFailure.init(json:)) else { return nil }
                outcome = .failed(e)
            default: return nil
            }
            self = .job(JobEntry(jobID: jobID, eventID: eventID, created: created, finished: finished, outcome: outcome))
        default:
            return nil
        }
    }
}
