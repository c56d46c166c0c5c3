// swift-tools-version:6.0
import Foundation
import PackageDescription

// The target graph (docs/ARCHITECTURE.md draws it): C modules at the bottom, small libraries with one
// job each in the middle, the six daemons and inferctl on top. A daemon depends on exactly the
// libraries it uses.

// The engine's inner loops are C (Sources/EngineKernels), built optimised even in debug builds (so
// `swift test` runs the real models in seconds, not minutes) and twice over: for x86-64's baseline and
// for AVX2/FMA, chosen at run time from the CPU — never from the machine that builds. The Swift engine
// around them (the GGUF and safetensors parsers among it) keeps every Swift check; `-O` only makes
// debug builds of it fast.
let kernelCFlags: [String] = ["-O3", "-ffp-contract=off"]
let engineSwiftFlags: [String] = ["-O"]

/// A library target whose folder under Sources/ has a README.md saying what belongs there.
func library(_ name: String, _ dependencies: [Target.Dependency] = []) -> Target {
    .target(name: name, dependencies: dependencies, exclude: ["README.md"])
}

/// A daemon or tool: a folder under Sources/ with a thin main.swift.
func executable(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: dependencies, exclude: ["README.md"])
}

let package = Package(
    name: "infer",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "frontd", targets: ["frontd"]),
        .executable(name: "limitd", targets: ["limitd"]),
        .executable(name: "cached", targets: ["cached"]),
        .executable(name: "batchd", targets: ["batchd"]),
        .executable(name: "modeld", targets: ["modeld"]),
        .executable(name: "metricsd", targets: ["metricsd"]),
        .executable(name: "inferctl", targets: ["inferctl"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "HTTP", targets: ["HTTP"]),
        .library(name: "IPC", targets: ["IPC"]),
        // What fuzz/ (a package of its own, linked with libFuzzer) drives: every parser of outside input,
        // and every library frontd and inferctl import (the fuzz package compiles their source folders).
        .library(name: "FuzzedLibraries",
                 targets: ["HTTP", "Wire", "IPC", "Services", "Metrics", "Registry", "APIKeys", "Engine", "Settings", "Crypto",
                           "Basics", "DaemonRuntime", "Spawn", "CLinux", "Upstream", "Tracing"]),
        // What a test of a daemon, of the stack or of a new service needs: scratch directories, loggers,
        // polling and latches, child processes, a raw HTTP client, a stack under `inferctl up`, the built
        // binaries and the test models (Tests/TestKit, Tests/TestModels).
        .library(name: "TestKit", targets: ["TestKit", "TestModels"]),
    ],
    targets: [
        // ── C modules ─────────────────────────────────────────────────────────────────────────────
        // libsystemd (Debian's libsystemd-dev): socket activation, sd_notify, the watchdog.
        .systemLibrary(name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),
        // The Linux calls Swift's Glibc module leaves out: epoll, eventfd, accept4, pipe2, thread names.
        .target(name: "CLinux", exclude: ["README.md"]),

        // ── Libraries: one job each ────────────────────────────────────────────────────────────────
        // The clock, Duration conversions, the JSON string escaper, error codes, whole-file writes and reads
        // (FileIO), socket addresses and the listening socket made at one.
        library("Basics"),
        // The IPC wire format: frames, the payload codec, control payloads. Pure code, no OS calls.
        library("Wire"),
        // One epoll loop core: descriptors, the eventfd wake-up, work queues, timers, the executor, the
        // loop thread; IPC's process-wide loop on it. Under IPC and HTTP.
        library("Reactor", ["CLinux", "Basics"]),
        // IPC connections: the multiplexed client (reconnect, deadlines, streams) and server (drain).
        library("IPC", ["Wire", "Reactor", "Basics", "CLinux"]),
        // Metric families, each daemon's registry, the Prometheus text renderer.
        library("Metrics", ["Wire"]),
        // Spans, W3C trace context parsing, samplers, the batching OTLP/HTTP exporter (its own plain-HTTP
        // POST: no FoundationNetworking, so no libcurl in the daemons without an upstream).
        library("Tracing", ["Wire", "Basics", "Reactor"]),
        // Each service's messages and client stub, and the service shell every daemon dispatches with.
        library("Services", ["IPC", "Wire", "Metrics", "Basics", "Tracing"]),
        // Typed settings from the environment, a daemon's table of them, ConfigError (exit 78).
        library("Settings", ["Basics"]),
        // The daemon runtime: settings, logging, socket activation, readiness, watchdog, drain.
        library("DaemonRuntime", ["Settings", "Basics", "CSystemd", "CLinux", "Tracing", "Wire"]),
        // The model registry file.
        library("Registry", ["Settings", "Basics"]),
        // SHA-256, HMAC-SHA256, hex, constant-time comparison.
        library("Crypto", ["Basics"]),
        // The API keys file that inferctl writes and frontd reads.
        library("APIKeys", ["Settings", "Crypto", "Basics"]),
        // Spawning child processes with inherited sockets (inferctl's supervisor, tests).
        library("Spawn", ["CLinux", "Basics"]),
        // The project's own Redis client (RESP2 over TCP or a Unix socket, pipelined, reconnecting), for
        // limitd's cluster-wide limits and cached's shared tier; of Reactor it uses only LoopThread, to start
        // its I/O thread (it runs its own poll loop).
        library("Redis", ["Basics", "Crypto", "Reactor"]),
        // The OpenAI-compatible HTTP client modeld uses for an upstream deployment (its own HTTP/1.1 on
        // Reactor for http://, FoundationNetworking for https://).
        library("Upstream", ["Basics", "Reactor"]),
        // A reusable HTTP/1.1 server; its loops run on Reactor's core.
        library("HTTP", ["Reactor", "CLinux", "Basics"]),
        // The engine's inner loops (quantized and F32 products, attention, norms) in C, one source
        // compiled for the x86-64 baseline and for AVX2/FMA/F16C; the CPU picks at run time.
        .target(name: "EngineKernels", exclude: ["README.md"], cSettings: [.unsafeFlags(kernelCFlags)]),
        // The built-in CPU engine: GGUF, safetensors, tokenizers, SmolLM2 and MiniLM (Swift's checks on).
        .target(name: "Engine", dependencies: ["EngineKernels"], exclude: ["README.md"],
                swiftSettings: [.unsafeFlags(engineSwiftFlags)]),

        // ── Daemons and tools ──────────────────────────────────────────────────────────────────────
        // The HTTP front: validation, routing, SSE; orchestrates limitd, cached and batchd.
        executable("frontd", ["HTTP", "IPC", "Wire", "Services", "DaemonRuntime", "Settings", "Metrics",
                              "Registry", "APIKeys", "Crypto", "Basics", "Tracing"]),
        // Rate limits per key (GCRA) and token accounting.
        executable("limitd", ["IPC", "Reactor", "Wire", "Services", "DaemonRuntime", "Settings", "Metrics", "Basics", "Redis"]),
        // The response cache: exact (LRU + TTL + byte bound) and semantic, warm restarts, a shared Redis tier.
        executable("cached", ["IPC", "Wire", "Services", "DaemonRuntime", "Settings", "Metrics", "Basics", "Redis"]),
        // Scheduling: per-model queues, batches, backpressure, retries; relays streams from modeld.
        executable("batchd", ["Basics", "IPC", "Wire", "Services", "DaemonRuntime", "Settings", "Metrics", "Registry",
                              "Tracing"]),
        // One model instance: the continuous-batching engine loop; `modeld generate|embed` by hand.
        executable("modeld", ["Engine", "Upstream", "IPC", "Wire", "Services", "DaemonRuntime", "Settings", "Metrics",
                              "Registry", "Tracing", "CLinux"]),
        // Gathers every daemon's metrics on each scrape and serves Prometheus text.
        executable("metricsd", ["HTTP", "IPC", "Wire", "Services", "Registry", "DaemonRuntime", "Settings", "Basics",
                                "Metrics"]),
        // The operator's CLI: `inferctl up` runs the stack the way systemd would; `inferctl keys`; the API's
        // clients (chat, complete, embed, test-api, bench) on the Upstream HTTP client.
        executable("inferctl", ["IPC", "Services", "DaemonRuntime", "Settings", "Registry", "APIKeys", "Spawn", "CLinux",
                                "Basics", "Upstream"]),

        // ── Benchmarks ─────────────────────────────────────────────────────────────────────────────
        .executableTarget(name: "engine-bench", dependencies: ["Engine"], path: "bench/engine-bench"),
        .executableTarget(name: "ipc-bench", dependencies: ["IPC", "Services", "Wire"], path: "bench/ipc-bench"),
        // limitd's Reserve and Commit against the real daemon: the memory backend with its journal, and Redis.
        .executableTarget(name: "limit-bench", dependencies: ["IPC", "Services"], path: "bench/limit-bench"),
        .executableTarget(name: "http-bench", dependencies: ["HTTP"], path: "bench/http-bench"),
        // cached through its socket: exact hits per backend, semantic lookups against entries.
        .executableTarget(name: "cache-bench", dependencies: ["IPC", "Services"], path: "bench/cache-bench"),

        // ── Tests ──────────────────────────────────────────────────────────────────────────────────
        // Where the test models are; Foundation only, so EngineTests links no daemon library.
        .target(name: "TestModels", path: "Tests/TestModels", exclude: ["README.md"]),
        // The test kit every other test target uses (Tests/TestKit/README.md says what belongs there).
        .target(name: "TestKit",
                dependencies: ["TestModels", "IPC", "Services", "DaemonRuntime", "Spawn", "APIKeys", "Crypto", "Basics"],
                path: "Tests/TestKit", exclude: ["README.md"]),
        // Fixtures the tests start as child processes; built with the tests, not shipped as products.
        .executableTarget(name: "runtime-probe", dependencies: ["DaemonRuntime", "Settings", "IPC"],
                          path: "Tests/Fixtures/runtime-probe"),
        .executableTarget(name: "daemon-standin",
                          dependencies: ["DaemonRuntime", "Settings", "IPC", "Registry"],
                          path: "Tests/Fixtures/daemon-standin"),
        .testTarget(name: "BasicsTests", dependencies: ["Basics"]),
        .testTarget(name: "IPCTests",
                    dependencies: ["IPC", "Reactor", "Wire", "Services", "Metrics", "Basics", "TestKit"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "APIKeysTests", dependencies: ["APIKeys", "Basics", "Crypto", "TestKit"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "TestKit"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestModels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RuntimeTests",
                    dependencies: ["DaemonRuntime", "Settings", "IPC", "Spawn", "CSystemd", "CLinux", "TestKit"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "APIKeys", "Settings", "Crypto", "TestKit"]),
        // inferctl's own: its command line, keys command, stack plan, environment files, restart policy,
        // systemd units, and `inferctl up` supervising stand-ins.
        .testTarget(name: "InferctlTests",
                    dependencies: ["inferctl", "IPC", "Registry", "APIKeys", "Spawn", "Crypto", "TestKit"]),
        // The whole stack: the real daemons under `inferctl up`, driven over HTTP (routes, the OpenAI
        // client, the OpenAPI contract, auth, CORS, hostile input, webhooks, restarts).
        .testTarget(name: "StackTests", dependencies: ["IPC", "APIKeys", "Crypto", "TestKit", "TestModels"]),
        // Several hosts: scripts/three-hosts-test.sh (network namespaces, nginx, redis-server; needs root).
        .testTarget(name: "ClusterTests", dependencies: ["TestKit"]),
        .testTarget(name: "FrontdTests",
                    dependencies: ["frontd", "HTTP", "IPC", "Wire", "Services", "DaemonRuntime", "Settings",
                                   "APIKeys", "Crypto", "Registry", "Metrics", "TestKit"]),
        .testTarget(name: "MetricsdTests", dependencies: ["metricsd", "IPC", "Services", "Metrics", "Wire", "TestKit"]),
        .testTarget(name: "LimitdTests",
                    dependencies: ["limitd", "IPC", "Wire", "Services", "Metrics", "Spawn", "Redis", "TestKit"]),
        .testTarget(name: "CachedTests",
                    dependencies: ["cached", "IPC", "Wire", "Services", "Settings", "Metrics", "Spawn", "Redis", "TestKit"]),
        .testTarget(name: "ModeldTests",
                    dependencies: ["modeld", "Engine", "Upstream", "IPC", "Services", "DaemonRuntime", "Registry",
                                   "Settings", "TestKit", "TestModels"]),
        .testTarget(name: "BatchdTests",
                    dependencies: ["batchd", "modeld", "Engine", "IPC", "Services", "DaemonRuntime",
                                   "Registry", "Metrics", "Upstream", "TestKit", "TestModels"]),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "TestKit"]),
        // docs/ checked against the code: each daemon's settings table (run as `DAEMON --help=markdown`).
        .testTarget(name: "DocsTests", dependencies: ["TestKit"]),
        .testTarget(name: "UpstreamTests", dependencies: ["Upstream", "TestKit"]),
        // Every script under bench/ run for a second on the debug build, so none can rot.
        .testTarget(name: "BenchScriptsTests", dependencies: ["Spawn", "TestKit"]),
        .testTarget(name: "TracingTests", dependencies: ["Tracing", "Wire", "TestKit"]),
        // Every input the fuzzers (fuzz/, a package of its own) ever crashed on, and their seeds, fed to
        // the fuzzers' code (FuzzHarness.swift) in the normal suite.
        .testTarget(name: "FuzzRegressionTests",
                    dependencies: ["frontd", "inferctl", "HTTP", "Wire", "Services", "Metrics", "Registry", "APIKeys",
                                   "Engine", "Upstream"]),
    ]
)
