import Foundation
@testable import frontd
import Glibc
import Testing
import TestKit

@Suite struct EventJournalTests {
    static func event(_ id: String, job: String? = nil, at time: Int = 1000) -> JournalRecord {
        .event(.init(id: id, type: job == nil ? "ping" : "inference.request", timestamp: time, received: time, jobID: job,
                     body: #"{"id":"\#(id)","type":"x","data":{"prompt":"line one\nline \"two\""}}"#))
    }

    static func finished(_ job: String, event: String, at time: Int = 1010) -> JournalRecord {
        .job(.init(jobID: job, eventID: event, created: 1000, finished: time,
                   outcome: .succeeded(JobResult(model: "smollm2", CachedCompletion(content: "Paris.\n", finishReason: "stop",
                                                                                       promptTokens: 7, completionTokens: 3)))))
    }

    @Test func appendedRecordsReadBackInOrder() async throws {
        let dir = try TemporaryDirectory()
        // The directory does not exist yet: the journal creates it.
        let path = dir.path + "/state/webhooks/events.jsonl"
        let records: [JournalRecord] = [
            Self.event("evt_1"), Self.event("evt_2", job: "job_a"), Self.finished("job_a", event: "evt_2"),
            .job(.init(jobID: "job_b", eventID: "evt_3", created: 1, finished: 2,
                       outcome: .failed(JobFailure(APIError.unavailable("the scheduler (batchd) is unavailable"))))),
        ]
        do {
            let journal = try EventJournal.open(path: path)
            for r in records { try await journal.append(r.line) }
            #expect(journal.committedLength == records.reduce(0) { $0 + $1.line.count })
        }
        let contents = try JournalReader.read(path: path)
        #expect(contents.records.map(\.record) == records)
        #expect(contents.tornBytes == 0 && contents.badLines == 0)
        // One line per record, and each line is JSON that jq or Python can read.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == records.count)
        for line in text.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any])
        }
        // Private: the file holds prompts.
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(dir.path + "/state", &info) == 0 && info.st_mode & 0o777 == 0o700)
    }

    @Test func concurrentAppendsAreAllDurableAndWhole() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/events.jsonl"
        let journal = try EventJournal.open(path: path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask { try await journal.append(Self.event("evt_\(i)").line) }
            }
            try await group.waitForAll()
        }
        let contents = try JournalReader.read(path: path)
        #expect(contents.records.count == 200 && contents.badLines == 0)
        let ids = Set(contents.records.compactMap { r -> String? in
            if case .event(let e) = r.record { return e.id }
            return nil
        })
        #expect(ids.count == 200)
    }

    @Test func aTornLastLineIsSkippedAndCutOffBeforeTheNextAppend() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/events.jsonl"
        let whole = Self.event("evt_1").line
        let torn = Array(Self.event("evt_2").line.dropLast(9))
        let damaged = Array("not json at all\n".utf8)
        try Data(whole + damaged + torn).write(to: URL(fileURLWithPath: path))

        let contents = try JournalReader.read(path: path)
        #expect(contents.records.map(\.record) == [Self.event("evt_1")])
        #expect(contents.badLines == 1)
        #expect(contents.tornBytes == torn.count)
        #expect(contents.validLength == whole.count + damaged.count)

        let journal = try EventJournal.open(path: path, validLength: contents.validLength)
        try await journal.append(Self.event("evt_3").line)
        let again = try JournalReader.read(path: path)
        #expect(again.records.map(\.record) == [Self.event("evt_1"), Self.event("evt_3")])
        #expect(again.tornBytes == 0)
    }

    @Test func aMissingJournalIsEmptyAndANonFileIsAnError() throws {
        let dir = try TemporaryDirectory()
        let empty = try JournalReader.read(path: dir.path + "/none.jsonl")
        #expect(empty.records.isEmpty && empty.validLength == 0)
        #expect(throws: JournalError.self) { try JournalReader.read(path: dir.path) }
        #expect(throws: JournalError.self) { try JournalReader.read(path: "/dev/zero") }
        // A file where the directory should be.
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path + "/file"))
        #expect(throws: JournalError.self) { try EventJournal.open(path: dir.path + "/file/events.jsonl") }
    }

    /// A real failing device: every write to /dev/full fails with ENOSPC.
    @Test func aFailedWriteIsReportedAndNothingIsAcknowledged() async throws {
        let journal = try EventJournal.open(path: "/dev/full")
        var firstError: JournalError?
        do {
            try await journal.append(Self.event("evt_1").line)
        } catch {
            firstError = error
        }
        #expect(firstError?.description.contains("No space left on device") == true, "\(String(describing: firstError))")
        #expect(journal.committedLength == 0)
        // The partial line could not be cut off a device, so the journal refuses everything after.
        await #expect(throws: JournalError.self) { try await journal.append(Self.event("evt_2").line) }
    }

    @Test func rewriteReplacesTheFileAtomically() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/events.jsonl"
        let journal = try EventJournal.open(path: path)
        for i in 0..<5 { try await journal.append(Self.event("evt_\(i)").line) }
        try JournalReader.rewrite(path: path, lines: [Self.event("evt_3").line])
        #expect(try JournalReader.read(path: path).records.map(\.record) == [Self.event("evt_3")])
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }
}
