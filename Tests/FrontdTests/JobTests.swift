import DaemonRuntime
import Foundation
@testable import frontd
import IPC
import Services
import Synchronization
import Testing
import TestKit

@Suite struct JobStoreTests {
    static func job(_ id: String) -> Job {
        Job(id: id, eventID: "evt-" + id, generate: GenerationProtocol.Generate(requestID: id, model: "smollm2", prompt: "x",
                                                                             parameters: .init()), created: 1)
    }

    static let done = JobOutcome.succeeded(JobResult(model: "smollm2", CachedCompletion(content: "ok", finishReason: "stop",
                                                                                          promptTokens: 1, completionTokens: 1)))

    @Test func runsAtMostMaxRunningInArrivalOrder() {
        let store = JobStore(capacity: 10, maxRunning: 2)
        for id in ["a", "b", "c"] {
            #expect(store.add(Self.job(id)))
            store.enqueue(id)
        }
        #expect(store.startNext()?.id == "a")
        #expect(store.startNext()?.id == "b")
        #expect(store.startNext() == nil)
        #expect(store.job("c")?.status == .queued && store.job("a")?.status == .running)
        store.finish("a", Self.done, at: 5)
        #expect(store.job("a")?.status == .succeeded && store.job("a")?.finished == 5)
        #expect(store.startNext()?.id == "c")
    }

    @Test func addedJobsWaitUntilEnqueuedAndRemovedOnesNeverRun() {
        let store = JobStore(capacity: 10, maxRunning: 4)
        #expect(store.add(Self.job("a")))
        #expect(store.startNext() == nil)
        #expect(store.add(Self.job("b")))
        store.enqueue("b")
        store.remove("a")
        store.enqueue("a")
        #expect(store.startNext()?.id == "b")
        #expect(store.startNext() == nil)
        #expect(store.job("a") == nil)
    }

    @Test func theOldestFinishedJobMakesRoomAndUnfinishedOnesAreNeverDropped() {
        let store = JobStore(capacity: 2, maxRunning: 2)
        for id in ["a", "b"] {
            #expect(store.add(Self.job(id)))
            store.enqueue(id)
        }
        // Full of unfinished jobs: a new one is refused.
        #expect(!store.add(Self.job("c")))
        _ = store.startNext()
        _ = store.startNext()
        store.finish("b", Self.done, at: 2)
        store.finish("a", Self.done, at: 3)
        // "b" finished first, so it goes first.
        #expect(store.add(Self.job("c")))
        #expect(store.job("b") == nil && store.job("a") != nil)
        #expect(store.add(Self.job("d")))
        #expect(store.job("a") == nil)
        #expect(store.counts.kept == 2)
    }
}

@Suite struct JobRunnerTests {
    /// Gates each execution until the test lets it finish, counting how many run at once.
    final class Gate: Sendable {
        let running = Mutex((now: 0, most: 0, started: 0))
        let release = Mutex<[CheckedContinuation<Void, Never>]>([])

        func execute(_ g: GenerationProtocol.Generate) async throws -> CachedCompletion {
            running.withLock { $0.now += 1; $0.most = max($0.most, $0.now); $0.started += 1 }
            await withCheckedContinuation { c in release.withLock { $0.append(c) } }
            running.withLock { $0.now -= 1 }
            if g.prompt == "fail" { throw APIError.unavailable("the scheduler (batchd) is unavailable") }
            return CachedCompletion(content: "out:" + g.prompt, finishReason: "length", promptTokens: 2, completionTokens: 4)
        }

        /// Lets every waiting execution finish.
        func openAll() {
            for c in release.withLock({ l in defer { l.removeAll() }; return l }) { c.resume() }
        }
    }

    @Test func boundedConcurrencyAndEveryEndJournaledBeforeItShows() async throws {
        let dir = try TemporaryDirectory()
        let journal = try EventJournal.open(path: dir.path + "/events.jsonl")
        let store = JobStore(capacity: 100, maxRunning: 2)
        let runner = JobRunner(store: store, journal: journal, logger: Logger(daemon: "test", level: .error), clock: { 1234 })
        let gate = Gate()
        runner.start { try await gate.execute($0) }
        let prompts = ["p0", "p1", "fail", "p3", "p4", "p5"]
        for (i, p) in prompts.enumerated() {
            let id = "job_\(i)"
            #expect(store.add(Job(id: id, eventID: "evt_\(i)",
                                  generate: GenerationProtocol.Generate(requestID: id, model: "smollm2", prompt: p, parameters: .init()),
                                  created: 1000)))
            runner.submit(id)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        // Both slots fill, and the other jobs wait.
        while gate.running.withLock({ $0.now }) < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(gate.running.withLock { $0.now } == 2 && store.counts.running == 2)
        #expect(store.job("job_2")?.status == .queued && store.job("job_5")?.status == .queued)
        while ContinuousClock.now < deadline {
            gate.openAll()
            if prompts.indices.allSatisfy({ store.job("job_\($0)")?.finished != nil }) { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(gate.running.withLock { $0.most } == 2)
        #expect(gate.running.withLock { $0.started } == prompts.count)
        let succeeded = store.job("job_0")
        #expect(succeeded?.status == .succeeded && succeeded?.finished == 1234)
        #expect(succeeded?.json.contains(#""output":"out:p0""#) == true)
        #expect(succeeded?.json.contains(#""usage":{"prompt_tokens":2,"completion_tokens":4,"total_tokens":6}"#) == true)
        let failed = store.job("job_2")
        #expect(failed?.status == .failed)
        #expect(failed?.json.contains(#""code":"service_unavailable""#) == true && failed?.json.contains(#""result":null"#) == true)
        // Each end is in the journal.
        let ends = try JournalReader.read(path: dir.path + "/events.jsonl").records.compactMap { r -> String? in
            if case .job(let j) = r.record { return j.jobID + ":" + j.outcome.status.rawValue }
            return nil
        }
        #expect(Set(ends) == Set(prompts.indices.map { "job_\($0):" + ($0 == 2 ? "failed" : "succeeded") }))
    }
}

@Suite struct InferenceJobRequestTests {
    func parse(_ json: String, chatModels: [String]? = ["smollm2"]) throws(APIError) -> GenerationProtocol.Generate {
        let data = try JSONBody.object(Array(json.utf8))
        return try InferenceJobRequest.generate(data, requestID: "job_1", rules: .test("smollm2"), chatModels: chatModels)
    }

    func refusal(_ json: String) -> String? {
        do throws(APIError) {
            _ = try parse(json)
            return nil
        } catch {
            return error.status.code == 422 ? error.param : "status \(error.status.code)"
        }
    }

    @Test func promptIsRawTextAndMessagesAreChatTurns() throws {
        let raw = try parse(#"{"prompt": "Once upon a time", "params": {"max_new_tokens": 8, "temperature": 0, "stop": "\n", "seed": 7}}"#)
        #expect(raw.prompt == "Once upon a time" && raw.messages.isEmpty && raw.model == "smollm2" && raw.requestID == "job_1")
        #expect(raw.parameters.maxTokens == 8 && raw.parameters.temperature == 0 && raw.parameters.stop == ["\n"] && raw.parameters.seed == 7)
        let chat = try parse(#"{"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}"#)
        #expect(chat.prompt.isEmpty && chat.messages == [GenerationProtocol.Message(role: "user", content: "Hi")])
        #expect(chat.parameters.maxTokens == 5 && chat.parameters.temperature == 1)
        #expect(try parse(#"{"prompt": "x"}"#).parameters.maxTokens == InferenceJobRequest.defaultMaxTokens)
    }

    @Test(arguments: [
        (#"{}"#, "data.prompt"),
        (#"{"prompt": "x", "messages": [{"role": "user", "content": "y"}]}"#, "data.prompt"),
        (#"{"prompt": ""}"#, "data.prompt"),
        (#"{"prompt": 5}"#, "data.prompt"),
        (#"{"messages": []}"#, "data.messages"),
        (#"{"messages": [{"role": "robot", "content": "y"}]}"#, "data.messages"),
        (#"{"prompt": "x", "model": "gpt-9"}"#, "data.model"),
        (#"{"prompt": "x", "model": "Bad Name"}"#, "data.model"),
        (#"{"prompt": "x", "params": []}"#, "data.params"),
        (#"{"prompt": "x", "params": {"temperature": 3}}"#, "data.params.temperature"),
        (#"{"prompt": "x", "params": {"temperature": true}}"#, "data.params.temperature"),
        (#"{"prompt": "x", "params": {"max_new_tokens": 0}}"#, "data.params.max_new_tokens"),
        (#"{"prompt": "x", "params": {"max_new_tokens": 1.5}}"#, "data.params.max_new_tokens"),
        (#"{"prompt": "x", "max_tokens": 5000}"#, "data.max_tokens"),
        (#"{"prompt": "x", "params": {"top_p": 0}}"#, "data.params.top_p"),
        (#"{"prompt": "x", "params": {"stop": ["a", "b", "c", "d", "e"]}}"#, "data.params.stop"),
    ])
    func invalidDataNamesTheField(json: String, param: String) {
        #expect(refusal(json) == param)
    }
}
