import DaemonRuntime
import Redis
import Settings

/// limitd's settings table (docs/limitd.md, SETTINGS; `limitd --help=markdown` prints it).
enum LimitSettings {
    static let requestsPerMinute = Setting<Int>(
        name: "RATE_LIMIT_RPM", default: 60,
        meaning: "Requests per minute allowed per key, unless the key has its own (keys file).",
        range: 1...1_000_000)
    static let window = Setting<Duration>(
        name: "RATE_LIMIT_WINDOW_SEC", default: .seconds(60),
        meaning: "Window the requests-per-minute limit is enforced over: a key may make RPM × window / 60 s requests (at least 1) at once.",
        unit: .seconds, range: .seconds(1) ... .seconds(86_400))
    static let requestsPerHour = Setting<Int>(
        name: "RATE_LIMIT_RPH", default: 0,
        meaning: "Requests per hour allowed per key, unless the key has its own; 0: no such limit.",
        range: 0...100_000_000)
    static let tokensPerMinute = Setting<Int>(
        name: "RATE_LIMIT_TPM", default: 0,
        meaning: "Tokens (prompt + completion) per minute allowed per key, reserved at admission, unless the key has its own; 0: no such limit.",
        range: 0...2_000_000_000)
    static let maxParallel = Setting<Int>(
        name: "RATE_LIMIT_MAX_PARALLEL", default: 0,
        meaning: "Requests one key may have running at once, unless the key has its own; 0: no such limit.",
        range: 0...1_000_000)
    static let maxKeys = Setting<Int>(
        name: "RATE_LIMIT_MAX_KEYS", default: 100_000,
        meaning: "Most keys (and key-and-model scopes) whose rate state is remembered; the least recently seen are forgotten beyond it.",
        range: 1...100_000_000)
    static let snapshotInterval = Setting<Duration>(
        name: "LIMITS_SNAPSHOT_INTERVAL_SEC", default: .seconds(60),
        meaning: "How often limitd writes its whole state to STATE/limits/snapshot and starts a new journal (sooner when the journal passes 64 MiB).",
        unit: .seconds, range: .seconds(1) ... .seconds(86_400))
    static let backend = Setting<LimitsBackendKind>(
        name: "LIMITS_BACKEND", default: .memory,
        meaning: "Where limits, reservations and spend are decided and kept: memory (this process, journaled; per host) or redis (REDIS_URL, shared by every host).")
    static let redisURL = Setting<RedisURL?>.optional(
        name: "REDIS_URL", meaning: "The Redis server of LIMITS_BACKEND=redis (required by it; the same form as cached's).",
        expected: RedisURL.forms, secret: true) { try? RedisURL(parsing: $0) }
    static let redisFailure = Setting<RedisFailurePolicy>(
        name: "LIMITS_REDIS_FAILURE", default: .open,
        meaning: "While Redis does not answer: open decides on this host's own limits (and replays the spend into Redis when it returns), closed refuses admissions (frontd answers 503).")
    static let redisTimeout = Setting<Duration>(
        name: "LIMITS_REDIS_TIMEOUT_MS", default: .milliseconds(150),
        meaning: "How long one Redis call may take before LIMITS_REDIS_FAILURE applies to the request (keep it under frontd's DEPENDENCY_TIMEOUT_MS).",
        unit: .milliseconds, range: .milliseconds(1) ... .seconds(60))

    static let table: [AnySetting] = [
        requestsPerMinute, window, requestsPerHour, tokensPerMinute, maxParallel, maxKeys, snapshotInterval,
        backend, redisURL, redisFailure, redisTimeout,
    ] + RuntimeSettings.stateDirectorySettings
}
