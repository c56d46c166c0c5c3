// batchd: per-model queues with priorities and deadlines, dynamic batches handed to each model's modeld
// instance within a capacity bound (backpressure stays here: a full queue is refused at once), retries
// where they cannot duplicate output, and streamed answers relayed back as they come.
import DaemonRuntime
import IPC
import Registry
import Settings

let maxSize = Setting<Int>(
    name: "BATCH_MAX_SIZE", default: 8,
    meaning: "Requests that make a batch; a model gets at most twice this many at once.", range: 1...1024)
let flushTimeout = Setting<Duration>(
    name: "BATCH_FLUSH_TIMEOUT_MS", default: .milliseconds(10),
    meaning: "Longest time the oldest queued request waits for its batch to fill.",
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

Daemon.run(
    name: "batchd",
    settings: [maxSize, flushTimeout, queueMax, models, ModelRegistry.registrySetting, retryMax, defaultTimeout],
    sockets: [.unix("batchd")]
) { context in
    let settings = context.settings
    let directory = settings[RuntimeSettings.runtimeDirectory]
    let routed = BatchService.routedModels(listed: settings[models], registry: try ModelRegistry.loadIfConfigured())
    context.logger.info("routing", ["models": .string(routed.joined(separator: ","))])
    var backends: [String: any ModelBackend] = [:]
    for model in routed {
        backends[model] = ModeldBackend(path: "\(directory)/modeld-\(model).sock")
    }
    return try BatchService(
        listenFD: try context.listener("batchd").fileDescriptor, backends: backends,
        configuration: BatchScheduler.Configuration(
            maxBatch: settings[maxSize], flushTimeout: settings[flushTimeout], queueMax: settings[queueMax]),
        policy: RelayPolicy(retryMax: settings[retryMax], defaultTimeout: settings[defaultTimeout]),
        logger: context.logger)
}
