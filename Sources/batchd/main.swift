// batchd: per-model queues with priorities and deadlines, dynamic batches handed to each model's modeld
// instance within a capacity bound (backpressure stays here: a full queue is refused at once), retries
// where they cannot duplicate output, and streamed answers relayed back as they come.
import Basics
import DaemonRuntime
import IPC
import Registry
import Settings

let maxSize = Setting<Int>(
    name: "BATCH_MAX_SIZE", default: 8,
    meaning: "Requests that make a batch; a model gets at most twice this many at once.", range: 1...1024)
let flushTimeout = Setting<Duration>(
    name: "BATCH_FLUSH_TIMEOUT_MS", default: .milliseconds(10),
    meaning: "Once BATCH_MAX_SIZE of a model's requests run, longest time the oldest queued request waits for its batch to fill; below that a request goes at once.",
    unit: .milliseconds, range: .zero ... .seconds(60))
let queueMax = Setting<Int>(
    name: "BATCH_QUEUE_MAX", default: 256,
    meaning: "Requests a model's queue holds; beyond it requests are refused at once (HTTP 503).",
    range: 1...1_000_000)
let models = Setting<[String]>(
    name: "BATCH_MODELS", default: [],
    meaning: "Models routed, each to its modeld at $INFER_RUNTIME_DIR/modeld-NAME.sock (empty: every built-in model "
        + "of the registry, or smollm2,minilm when there is no registry file).",
    itemExpected: "model names (\(ModelRegistry.modelNameRule))", isValidItem: ModelRegistry.isValidModelName)
let retryMax = Setting<Int>(
    name: "BATCH_RETRY_MAX", default: 2,
    meaning: "Times a request is resent after modeld dropped it before any output.", range: 0...10)
let defaultTimeout = Setting<Duration>(
    name: "BATCH_DEFAULT_TIMEOUT_MS", default: .seconds(120),
    meaning: "Deadline of a request that came without one.", unit: .milliseconds, range: .milliseconds(1) ... .seconds(3600))

let breakerThreshold = Setting<Int>(
    name: "CIRCUIT_BREAKER_FAILURE_THRESHOLD", default: 5,
    meaning: "Failures of a deployment in a row (its upstream refused, reset, timed out, answered 5xx or 429) that open its circuit breaker.",
    range: 1...1000)
let breakerTimeout = Setting<Duration>(
    name: "CIRCUIT_BREAKER_TIMEOUT_SEC", default: .seconds(30),
    meaning: "How long an open breaker stays open before one probe (a health probe, or a request) may go (a 429's longer Retry-After wins).",
    unit: .seconds, range: .seconds(1) ... .seconds(86_400))
let probeInterval = Setting<Duration>(
    name: "CIRCUIT_BREAKER_PROBE_INTERVAL_SEC", default: .seconds(10),
    meaning: "How long a closed deployment may go without a request before batchd probes its health (0: only open breakers are probed, when their timeout ends).",
    unit: .seconds, range: .zero ... .seconds(86_400))

Daemon.run(
    name: "batchd",
    settings: [maxSize, flushTimeout, queueMax, models, ModelRegistry.registrySetting, retryMax, defaultTimeout,
               breakerThreshold, breakerTimeout, probeInterval],
    sockets: [.unix("batchd")]
) { context in
    let settings = context.settings
    let directory = settings[RuntimeSettings.runtimeDirectory]
    let registry = try ModelRegistry.loadIfConfigured()
    let routed = BatchService.routedModels(listed: settings[models], registry: registry)
    let router = BatchService.router(
        models: routed, registry: registry, capacity: settings[maxSize] * 2,
        breaker: CircuitBreaker(failureThreshold: settings[breakerThreshold], openDuration: settings[breakerTimeout].nanoseconds),
        socket: { "\(directory)/modeld-\($0).sock" })
    context.logger.info("routing", [
        "models": .string(routed.joined(separator: ",")),
        "deployments": .string(router.deployments.map(\.deployment.name).joined(separator: ",")),
    ])
    return try BatchService(
        listenFD: try context.listener("batchd").fileDescriptor, router: router,
        configuration: BatchScheduler.Configuration(
            maxBatch: settings[maxSize], flushTimeout: settings[flushTimeout], queueMax: settings[queueMax]),
        policy: RelayPolicy(retryMax: settings[retryMax], defaultTimeout: settings[defaultTimeout]),
        probes: ProbePolicy(idleInterval: settings[probeInterval] > .zero ? settings[probeInterval] : nil),
        logger: context.logger)
}
