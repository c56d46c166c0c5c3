// limitd: rate limits, concurrency, token limits and budgets per client key (and per key and model).
// frontd reserves what each request may use (GCRA over sliding windows, a slot, a worst-case cost) and
// settles what it used; the state is journaled so restarts forget nothing. See docs/limitd.md.
import DaemonRuntime
import IPC
import Settings

let requestsPerMinute = Setting<Int>(
    name: "RATE_LIMIT_RPM", default: 60,
    meaning: "Requests per minute allowed per key, unless the key has its own (keys file).",
    range: 1...1_000_000)
let window = Setting<Duration>(
    name: "RATE_LIMIT_WINDOW_SEC", default: .seconds(60),
    meaning: "Window the requests-per-minute limit is enforced over: a key may make RPM × window / 60 s requests (at least 1) at once.",
    unit: .seconds, range: .seconds(1) ... .seconds(86_400))
let requestsPerHour = Setting<Int>(
    name: "RATE_LIMIT_RPH", default: 0,
    meaning: "Requests per hour allowed per key, unless the key has its own; 0: no such limit.",
    range: 0...100_000_000)
let tokensPerMinute = Setting<Int>(
    name: "RATE_LIMIT_TPM", default: 0,
    meaning: "Tokens (prompt + completion) per minute allowed per key, reserved at admission, unless the key has its own; 0: no such limit.",
    range: 0...2_000_000_000)
let maxParallel = Setting<Int>(
    name: "RATE_LIMIT_MAX_PARALLEL", default: 0,
    meaning: "Requests one key may have running at once, unless the key has its own; 0: no such limit.",
    range: 0...1_000_000)
let maxKeys = Setting<Int>(
    name: "RATE_LIMIT_MAX_KEYS", default: 100_000,
    meaning: "Most keys (and key-and-model scopes) whose rate state is remembered; the least recently seen are forgotten beyond it.",
    range: 1...100_000_000)
let snapshotInterval = Setting<Duration>(
    name: "LIMITS_SNAPSHOT_INTERVAL_SEC", default: .seconds(60),
    meaning: "How often limitd writes its whole state to STATE/limits/snapshot and starts a new journal (sooner when the journal passes 64 MiB).",
    unit: .seconds, range: .seconds(1) ... .seconds(86_400))

Daemon.run(
    name: "limitd",
    settings: [requestsPerMinute, window, requestsPerHour, tokensPerMinute, maxParallel, maxKeys, snapshotInterval,
               RuntimeSettings.systemdStateDirectory, RuntimeSettings.stateDirectory],
    sockets: [.unix("limitd")]
) { context in
    let settings = context.settings
    let defaults = LimitDefaults(
        requestsPerMinute: settings[requestsPerMinute], window: settings[window], requestsPerHour: settings[requestsPerHour],
        tokensPerMinute: settings[tokensPerMinute], maxParallel: settings[maxParallel])
    let directory = RuntimeSettings.stateDirectory(settings) + "/limits"
    let journal = try StateJournal(directory: directory)
    let (seconds, attoseconds) = settings[snapshotInterval].components
    let limiter = RateLimiter(defaults: defaults, maxKeys: settings[maxKeys], journal: journal,
                              snapshotInterval: seconds * 1_000_000_000 + attoseconds / 1_000_000_000, now: WallClock.nanoseconds())
    let report = try limiter.load()
    context.logger.info("state read back", [
        "directory": .string(directory), "records": LogValue(report.records), "journals": LogValue(report.journals),
        "dropped_bytes": LogValue(report.droppedBytes), "reservations": LogValue(limiter.heldReservations),
    ])
    let service = LimitService(listenFD: try context.listener("limitd").fileDescriptor, limiter: limiter, logger: context.logger)
    try service.start()
    return service
}
