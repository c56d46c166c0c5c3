import DaemonRuntime
import IPC
import Services
import Synchronization

/// Runs the jobs of a `JobStore` through batchd, at most `store.maxRunning` at once, and writes each
/// job's end to the journal before the job shows as finished: a job reported finished is never run
/// again after a restart.
final class JobRunner: Sendable {
    /// Runs one generation to the end (`Frontend.complete`).
    typealias Execute = @Sendable (GenerationProtocol.Generate) async throws -> CachedCompletion

    let store: JobStore
    private let journal: EventJournal?
    private let execute = Mutex<Execute?>(nil)
    private let logger: Logger
    private let clock: @Sendable () -> Int

    /// - Parameters:
    ///   - journal: Where job ends are recorded; nil runs without recording them.
    ///   - clock: Seconds since the epoch.
    init(store: JobStore, journal: EventJournal?, logger: Logger, clock: @escaping @Sendable () -> Int) {
        self.store = store
        self.journal = journal
        self.logger = logger
        self.clock = clock
    }

    /// Starts running jobs (those already enqueued first) with `execute`.
    func start(_ execute: @escaping Execute) {
        self.execute.withLock { $0 = execute }
        pump()
    }

    /// Lets an added job run.
    func submit(_ id: String) {
        store.enqueue(id)
        pump()
    }

    /// Starts waiting jobs while there are free slots.
    private func pump() {
        guard let execute = execute.withLock({ $0 }) else { return }
        while let job = store.startNext() {
            Task { await self.run(job, execute) }
        }
    }

    private func run(_ job: Job, _ execute: Execute) async {
        let log = logger.with(requestID: job.id)
        let outcome: JobOutcome
        if let generate = job.generate {
            do {
                outcome = .succeeded(JobResult(model: generate.model, try await execute(generate)))
            } catch {
                outcome = .failed(JobFailure(APIError.from(error)))
            }
        } else {
            outcome = .failed(JobFailure(job.unrunnable ?? APIError.internalError("the job has nothing to run")))
        }
        let finished = clock()
        if let journal {
            let entry = JournalRecord.JobEntry(jobID: job.id, eventID: job.eventID, created: job.created, finished: finished, outcome: outcome)
            do {
                try await journal.append(JournalRecord.job(entry).line)
            } catch {
                // The result is still served from memory; after a restart the job would run again.
                log.error("could not record the end of job \(job.id) in the journal: \(error)")
            }
        }
        store.finish(job.id, outcome, at: finished)
        switch outcome {
        case .succeeded(let r):
            log.info("job succeeded", ["event_id": .string(job.eventID), "completion_tokens": LogValue(r.completionTokens)])
        case .failed(let e):
            log.warn("job failed: \(e.message)", ["event_id": .string(job.eventID), "status": LogValue(e.status)])
        }
        pump()
    }
}
