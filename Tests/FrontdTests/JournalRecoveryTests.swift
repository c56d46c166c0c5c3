import DaemonRuntime
import Foundation
@testable import frontd
import IPC
import Services
import Settings
import Synchronization
import Testing
import TestKit

/// What a restart rebuilds from the journal.
@Suite struct JournalRecoveryTests {
    static func contents(_ records: [JournalRecord]) -> JournalReader.Contents {
        JournalReader.parse(records.flatMap(\.line))
    }

    @Test func windowUnfinishedJobsAndKeptLines() {
        let records: [JournalRecord] = [
            EventJournalTests.event("old", at: 100),                          // outside the window: dropped
            EventJournalTests.event("old-job", job: "job_old", at: 100),       // outside, but its job never ended: kept
            EventJournalTests.event("done", job: "job_done", at: 100),         // outside, job ended: dropped
            EventJournalTests.finished("job_done", event: "done"),
            EventJournalTests.event("recent", at: 950),                       // inside: kept
        ]
        let r = JournalRecovery(Self.contents(records), now: 1000, window: 300, jobCapacity: 10)
        #expect(r.seen.map(\.id) == ["recent"])
        #expect(r.unfinished.map(\.jobID) == ["job_old"])
        #expect(r.finished.map(\.jobID) == ["job_done"])
        #expect(r.keptLines == [records[1].line, records[3].line, records[4].line])
        #expect(r.droppedCount == 2 && r.worthRewriting)
    }

    @Test func onlyTheLastFinishedJobsUpToCapacityAreKept() {
        var records: [JournalRecord] = []
        for i in 0..<5 {
            records.append(EventJournalTests.event("e\(i)", job: "j\(i)", at: 0))
            records.append(EventJournalTests.finished("j\(i)", event: "e\(i)", at: 10 + i))
        }
        let r = JournalRecovery(Self.contents(records), now: 1000, window: 300, jobCapacity: 2)
        #expect(r.finished.map(\.jobID) == ["j3", "j4"])
        #expect(r.unfinished.isEmpty && r.seen.isEmpty)
        #expect(r.keptLines.count == 2)
    }
}

/// The whole of webhooks' start: settings, journal read back, replays refused and jobs restored or
/// run again after a restart.
@Suite struct WebhooksRestartTests {
    static func settings(_ dir: String, _ extra: [String: String] = [:]) throws -> Settings {
        var environment = ["WEBHOOK_HMAC_SECRET": "whsec-test-0123456789abcdef", "INFER_STATE_DIR": dir]
        for (k, v) in extra { environment[k] = v }
        return try Settings.load(FrontSettings.table, environment: environment)
    }

    static let logger = Logger(daemon: "test", level: .error)

    @Test func stateDirectoryComesFromSystemdFirst() throws {
        let fromSystemd = try Settings.load(FrontSettings.table, environment: ["STATE_DIRECTORY": "/var/lib/infer/frontd:/other",
                                                                                "INFER_STATE_DIR": "/srv/state"])
        #expect(RuntimeSettings.stateDirectory(fromSystemd) == "/var/lib/infer/frontd")
        let fromOperator = try Settings.load(FrontSettings.table, environment: ["INFER_STATE_DIR": "/srv/state"])
        #expect(RuntimeSettings.stateDirectory(fromOperator) == "/srv/state")
        #expect(Webhooks.journalPath(stateDirectory: "/srv/state") == "/srv/state/webhooks/events.jsonl")
        #expect(RuntimeSettings.stateDirectory(try Settings.load(FrontSettings.table, environment: [:])) == "/var/lib/infer")
        // Bad values stop the daemon at start, naming the variable.
        for (name, value) in [("WEBHOOK_HMAC_SECRET", "short"), ("WEBHOOK_TIMESTAMP_WINDOW", "0"), ("STATE_DIRECTORY", "relative"),
                              ("INFER_STATE_DIR", "relative"), ("JOBS_MAX_RUNNING", "0")] {
            #expect(throws: ConfigError.self) { try Settings.load(FrontSettings.table, environment: [name: value]) }
        }
    }

    @Test func withoutASecretNothingIsOpened() throws {
        let dir = try TemporaryDirectory()
        let hooks = try Webhooks(settings: try Settings.load(FrontSettings.table, environment: ["INFER_STATE_DIR": dir.path]),
                             logger: Self.logger, rules: .test("smollm2"), chatModels: nil)
        #expect(hooks.verifier == nil && hooks.journal == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/webhooks"))
    }

    @Test func anUnusableStateDirectoryLeavesWebhooksRefusing() throws {
        let dir = try TemporaryDirectory()
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path + "/webhooks"))
        let hooks = try Webhooks(settings: try Self.settings(dir.path), logger: Self.logger, rules: .test("smollm2"), chatModels: nil)
        #expect(hooks.verifier != nil && hooks.journal == nil)
        #expect(hooks.journalProblem?.lowercased().contains("not a directory") == true, "\(String(describing: hooks.journalProblem))")
    }

    @Test func aRestartRemembersEventsRestoresResultsAndRerunsUnfinishedJobs() async throws {
        let dir = try TemporaryDirectory()
        let settings = try Self.settings(dir.path)
        let now = 2_000_000_000
        do {
            let hooks = try Webhooks(settings: settings, logger: Self.logger, rules: .test("smollm2"), chatModels: ["smollm2"], clock: { now })
            let journal = try #require(hooks.journal)
            try await journal.append(EventJournalTests.event("old", at: now - 1000).line)
            try await journal.append(EventJournalTests.event("evt_done", job: "job_done", at: now - 10).line)
            try await journal.append(EventJournalTests.finished("job_done", event: "evt_done", at: now - 5).line)
            let pending = JournalRecord.event(.init(id: "evt_pending", type: "inference.request", timestamp: now - 3, received: now - 3,
                                                    jobID: "job_pending",
                                                    body: #"{"id":"evt_pending","type":"inference.request","data":{"prompt":"Once","max_tokens":3}}"#))
            try await journal.append(pending.line)
            let gone = JournalRecord.event(.init(id: "evt_gone", type: "inference.request", timestamp: now - 2, received: now - 2,
                                                 jobID: "job_gone",
                                                 body: #"{"id":"evt_gone","type":"inference.request","data":{"prompt":"x","model":"removed"}}"#))
            try await journal.append(gone.line)
        }
        // frontd restarts.
        let hooks = try Webhooks(settings: settings, logger: Self.logger, rules: .test("smollm2"), chatModels: ["smollm2"], clock: { now })
        #expect(hooks.journal != nil)
        #expect(hooks.replay.claim("evt_done", timestamp: now, now: now) == .replayed)
        #expect(hooks.replay.claim("evt_pending", timestamp: now, now: now) == .replayed)
        #expect(hooks.replay.claim("old", timestamp: now, now: now) == .claimed)
        let done = try #require(hooks.jobs.job("job_done"))
        #expect(done.status == .succeeded && done.json.contains(#""output":"Paris.\n""#))
        #expect(hooks.jobs.job("job_pending")?.status == .queued)
        // Started: the pending job runs again with its original request; the one whose model left fails.
        let seen = Mutex<[GenerationProtocol.Generate]>([])
        hooks.start { g in
            seen.withLock { $0.append(g) }
            return CachedCompletion(content: "again", finishReason: "length", promptTokens: 1, completionTokens: 3)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline,
              hooks.jobs.job("job_pending")?.finished == nil || hooks.jobs.job("job_gone")?.finished == nil {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(seen.withLock { $0.map(\.prompt) } == ["Once"])
        #expect(seen.withLock { $0.first?.parameters.maxTokens } == 3)
        #expect(hooks.jobs.job("job_pending")?.status == .succeeded)
        let gone = try #require(hooks.jobs.job("job_gone"))
        #expect(gone.status == .failed && gone.json.contains("data.model"))
        // The journal was compacted at start ("old" is outside the window) and now records both ends.
        let contents = try JournalReader.read(path: Webhooks.journalPath(stateDirectory: dir.path))
        #expect(!contents.records.contains { if case .event(let e) = $0.record { e.id == "old" } else { false } })
        let ends = contents.records.compactMap { r -> String? in if case .job(let j) = r.record { j.jobID } else { nil } }
        #expect(Set(ends) == ["job_done", "job_pending", "job_gone"])
    }
}
