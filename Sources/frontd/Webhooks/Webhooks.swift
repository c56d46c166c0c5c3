import DaemonRuntime
import FoundationEssentials
import IPC
import Settings

/// What `POST /webhooks/ingest` and `GET /v1/jobs/{id}` share: the verifier, the replay guard, the
/// journal and the jobs. Built once at start, which reads the journal back (docs/webhooks.md).
final class Webhooks: Sendable {
    /// nil when WEBHOOK_HMAC_SECRET is unset: the route then answers 503 and accepts nothing.
    let verifier: WebhookVerifier?
    let replay: ReplayGuard
    /// nil when webhooks are off, or when the journal could not be opened (`journalProblem` says why).
    let journal: EventJournal?
    let journalProblem: String?
    let jobs: JobStore
    let runner: JobRunner
    /// WEBHOOK_MAX_BODY_BYTES.
    let maxBodyBytes: Int

    /// DEFAULT_MODEL and MAX_TOKENS_LIMIT, for the jobs' requests.
    let rules: RequestRules
    /// The registry's chat models, or nil without a registry.
    let chatModels: [String]?
    let logger: Logger
    /// Seconds since the epoch (a parameter for tests).
    let clock: @Sendable () -> Int

    /// The journal's path inside the state directory.
    static func journalPath(stateDirectory: String) -> String {
        (stateDirectory.hasSuffix("/") ? stateDirectory : stateDirectory + "/") + "webhooks/events.jsonl"
    }

    /// Seconds since the epoch, from the wall clock (the senders' timestamps are wall-clock time).
    static func wallClock() -> Int { Int(Date().timeIntervalSince1970) }

    /// Reads the settings and, when webhooks are on, the journal: remembers the ids still inside the
    /// replay window, restores finished jobs, and queues the unfinished ones (they run once `start`
    /// is called). A journal that cannot be read or opened leaves the route answering 503 and is logged;
    /// the rest of frontd runs.
    /// - Throws: `ConfigError` when `WEBHOOK_HMAC_SECRET_PREVIOUS` is set without an end or a new secret.
    init(settings: Settings, logger: Logger, rules: RequestRules, chatModels: [String]?,
         clock: @escaping @Sendable () -> Int = Webhooks.wallClock) throws(ConfigError) {
        let rotation = try SecretRotation.configured(settings)
        let window = settings[FrontSettings.webhookWindow]
        replay = ReplayGuard(window: window, capacity: settings[FrontSettings.webhookMaxEvents])
        jobs = JobStore(capacity: settings[FrontSettings.jobsMax], maxRunning: settings[FrontSettings.jobsMaxRunning])
        maxBodyBytes = settings[FrontSettings.webhookMaxBody]
        self.rules = rules
        self.chatModels = chatModels
        self.logger = logger
        self.clock = clock
        guard let secret = settings[FrontSettings.webhookSecret] else {
            verifier = nil
            journal = nil
            journalProblem = nil
            runner = JobRunner(store: jobs, journal: nil, logger: logger, clock: clock)
            logger.info("webhooks are off: WEBHOOK_HMAC_SECRET is not set")
            return
        }
        verifier = WebhookVerifier(secret: Array(secret.utf8), window: window, rotation: rotation)
        if let rotation {
            let left = rotation.until - clock()
            if left > 0 {
                logger.info("webhook secret rotation: the previous secret is accepted too until the stated end",
                            ["previous_until": LogValue(rotation.until), "seconds_left": LogValue(left)])
            } else {
                logger.warn("WEBHOOK_HMAC_PREVIOUS_UNTIL has passed: the previous secret is refused; remove WEBHOOK_HMAC_SECRET_PREVIOUS",
                            ["previous_until": LogValue(rotation.until)])
            }
        }
        let path = Self.journalPath(stateDirectory: RuntimeSettings.stateDirectory(settings))
        var opened: EventJournal?
        var problem: String?
        var recovery: JournalRecovery?
        do {
            let contents = try JournalReader.read(path: path)
            if contents.tornBytes > 0 {
                logger.warn("the journal ends with a torn line (\(contents.tornBytes) bytes, never acknowledged); cutting it off",
                            ["path": .string(path)])
            }
            if contents.badLines > 0 {
                logger.warn("skipped \(contents.badLines) damaged line(s) of the journal", ["path": .string(path)])
            }
            let r = JournalRecovery(contents, now: clock(), window: window, jobCapacity: jobs.capacity)
            recovery = r
            var validLength: Int? = contents.validLength
            if r.worthRewriting || contents.badLines > 0 {
                do {
                    try JournalReader.rewrite(path: path, lines: r.keptLines)
                    validLength = nil
                } catch {
                    logger.warn("could not compact the journal; appending to it as it is: \(error)", ["path": .string(path)])
                }
            }
            opened = try EventJournal.open(path: path, validLength: validLength)
        } catch {
            problem = "the event journal is unavailable: \(error)"
            logger.error("webhooks refused until frontd restarts: \(problem ?? "")", ["path": .string(path)])
        }
        journal = opened
        journalProblem = problem
        runner = JobRunner(store: jobs, journal: opened, logger: logger, clock: clock)
        if let recovery, opened != nil { restore(recovery) }
        logger.info("webhooks are on", ["journal": .string(path), "window_sec": LogValue(window),
                                        "events_remembered": LogValue(recovery?.seen.count ?? 0),
                                        "jobs_restored": LogValue(recovery?.finished.count ?? 0),
                                        "jobs_to_rerun": LogValue(recovery?.unfinished.count ?? 0)])
    }

    /// Starts running jobs (those recovered from the journal first) through `execute`.
    func start(_ execute: @escaping JobRunner.Execute) {
        runner.start(execute)
    }

    private func restore(_ r: JournalRecovery) {
        let now = clock()
        for e in r.seen { replay.remember(e.id, timestamp: e.timestamp, received: e.received, now: now) }
        for j in r.finished { jobs.restore(Job(j)) }
        for e in r.unfinished {
            guard let jobID = e.jobID else { continue }
            var job: Job
            do {
                let event = try WebhookEvent(body: JSONBody.object(Array(e.body.utf8)))
                let generate = try InferenceJobRequest.generate(event.data, requestID: jobID, rules: rules, chatModels: chatModels)
                job = Job(id: jobID, eventID: e.id, generate: generate, created: e.received)
            } catch {
                job = Job(id: jobID, eventID: e.id, generate: nil, created: e.received)
                job.unrunnable = APIError.unprocessable("the job's request can no longer run: \(error.message)", param: error.param ?? "data")
            }
            if jobs.add(job) { jobs.enqueue(jobID) }
        }
    }
}
