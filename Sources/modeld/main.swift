// modeld: one model instance (`infer-modeld@NAME`). Loads the model INFER_MODEL names, runs its
// continuous-batching engine on a dedicated thread and serves Generate/Embed on modeld-NAME.sock.
// `modeld generate|embed|help` runs the engine by hand instead (ModelCommand.swift).
import DaemonRuntime
import Foundation
import IPC
import Registry
import Settings
import Upstream

if CommandLine.arguments.count > 1, ModelCommand.handles(CommandLine.arguments[1]) {
    exit(ModelCommand.run(Array(CommandLine.arguments.dropFirst())))
}

let model = Setting<String>(
    name: "INFER_MODEL", default: "",
    meaning: "Name of the model this instance serves (required; the unit's instance name, e.g. smollm2).",
    expected: "a model name (\(ModelRegistry.modelNameRule))", isValid: ModelRegistry.isValidModelName)
let modelPath = Setting<String>(
    name: "INFER_MODEL_PATH", default: "",
    meaning: "The model's GGUF file (chat) or folder with model.safetensors (embeddings); empty: the registry entry's path, else under INFER_MODELS_DIR.",
    path: .absolute)
let modelsDirectory = Setting<String>(
    name: "INFER_MODELS_DIR", default: "/var/lib/infer/models",
    meaning: "Folder of the models (smollm2/SmolLM2-135M-Instruct.Q4_1.gguf, minilm/) when INFER_MODEL_PATH is empty.",
    path: .absolute)
let maxBatch = Setting<Int>(
    name: "MODEL_MAX_BATCH", default: 16,
    meaning: "Most sequences decoded together in one engine step (the continuous batch).", range: 1...256)
let maxPrefillTokens = Setting<Int>(
    name: "MODEL_MAX_PREFILL_TOKENS", default: 2048,
    meaning: "Most prompt tokens joining the batch in one step (a longer prompt joins alone).",
    range: 1...1_000_000)
let embedMaxBatch = Setting<Int>(
    name: "MODEL_EMBED_MAX_BATCH", default: 64,
    meaning: "Most texts embedded in one pass, merged from concurrent Embed calls.", range: 1...4096)
let threads = Setting<Int>(
    name: "MODEL_THREADS", default: 0, meaning: "Threads of the engine's matrix kernels (0: every processor).",
    range: 0...1024)
let stallTimeout = Setting<Duration>(
    name: "MODEL_STALL_TIMEOUT_SEC", default: .seconds(30),
    meaning: "How long one engine step may run before the watchdog stops being told the daemon is healthy.",
    unit: .seconds, range: .seconds(1) ... .seconds(3600))

let upstreamConnectTimeout = Setting<Duration>(
    name: "MODEL_UPSTREAM_CONNECT_TIMEOUT_MS", default: .seconds(5),
    meaning: "An upstream deployment: longest time to connect and send a request.",
    unit: .milliseconds, range: .milliseconds(10) ... .seconds(300))
let upstreamFirstByteTimeout = Setting<Duration>(
    name: "MODEL_UPSTREAM_FIRST_BYTE_TIMEOUT_SEC", default: .seconds(120),
    meaning: "An upstream deployment: longest wait for the answer's head (a non-streamed answer comes whole, so this bounds it).",
    unit: .seconds, range: .milliseconds(100) ... .seconds(3600))
let upstreamTotalTimeout = Setting<Duration>(
    name: "MODEL_UPSTREAM_TIMEOUT_SEC", default: .seconds(600),
    meaning: "An upstream deployment: longest a call may take in all, waiting for a slot included (a request's own deadline may be shorter).",
    unit: .seconds, range: .seconds(1) ... .seconds(86_400))

// The .socket unit is /run/infer/modeld-%i.sock with FileDescriptorName=modeld.
let instance = ProcessInfo.processInfo.environment["INFER_MODEL"].flatMap { $0.isEmpty ? nil : $0 } ?? "unnamed"

Daemon.run(
    name: "modeld",
    settings: [model, modelPath, modelsDirectory, ModelRegistry.registrySetting, maxBatch, maxPrefillTokens, embedMaxBatch,
               threads, stallTimeout, upstreamConnectTimeout, upstreamFirstByteTimeout, upstreamTotalTimeout],
    sockets: [SocketSpec(name: "modeld", endpoint: .unix(fileName: "modeld-\(instance).sock"))]
) { context in
    let settings = context.settings
    return try await ModelService.start(
        model: settings[model], path: settings[modelPath], modelsDirectory: settings[modelsDirectory],
        registry: try ModelRegistry.loadIfConfigured(),
        threads: settings[threads],
        options: ModelOptions(
            maxBatch: settings[maxBatch], maxPrefillTokens: settings[maxPrefillTokens],
            embedMaxInputs: settings[embedMaxBatch], stallTimeout: settings[stallTimeout],
            upstreamTimeouts: UpstreamTimeouts(
                connect: settings[upstreamConnectTimeout], firstByte: settings[upstreamFirstByteTimeout],
                total: settings[upstreamTotalTimeout])),
        context: context)
}
