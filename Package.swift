// swift-tools-version:6.0
import PackageDescription
import Foundation

// The engine's kernels are the hot path of the whole gateway: build them optimised even in debug builds
// (so `swift test` runs the real models in seconds, not minutes) and for the host's vector units where
// the host has AVX2/FMA (every machine this project targets does; others get portable code).
let hostHasAVX2 = ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").contains(" avx2")
let kernelFlags: [String] = ["-Ounchecked"] + (hostHasAVX2 ? ["-target-cpu", "haswell"] : [])

let package = Package(
    name: "infer",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "IPC", targets: ["IPC"]),
        .executable(name: "modeld", targets: ["modeld"]),
        .executable(name: "batchd", targets: ["batchd"]),
        .executable(name: "engine-bench", targets: ["engine-bench"]),
        .executable(name: "ipc-bench", targets: ["ipc-bench"]),
        .executable(name: "runtime-probe", targets: ["runtime-probe"]),
        .library(name: "HTTP", targets: ["HTTP"]),
        .executable(name: "http-bench", targets: ["http-bench"]),
        .executable(name: "inferctl", targets: ["inferctl"]),
        .executable(name: "daemon-standin", targets: ["daemon-standin"]),
        .executable(name: "limitd", targets: ["limitd"]),
        .executable(name: "metricsd", targets: ["metricsd"]),
        .executable(name: "frontd", targets: ["frontd"]),
        .executable(name: "cached", targets: ["cached"]),
    ],
    targets: [
        // libsystemd (Debian's libsystemd-dev): socket activation, sd_notify, the watchdog.
        .systemLibrary(
            name: "CSystemd",
            path: "Sources/CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // A minimal daemon built on the runtime; the runtime tests start it as a real child process.
        .executableTarget(
            name: "runtime-probe",
            dependencies: ["IPC"],
            path: "Sources/runtime-probe"
        ),
        .target(
            name: "Engine",
            swiftSettings: [.unsafeFlags(kernelFlags)]
        ),
        // One model instance: loads the model, runs the continuous-batching engine loop, serves
        // Generate/Embed on modeld-NAME.sock; `modeld generate|embed` runs the engine by hand.
        .executableTarget(
            name: "modeld",
            dependencies: ["Engine", "IPC"]
        ),
        // Scheduling: per-model queues, batches, backpressure, retries; relays streams from modeld.
        .executableTarget(
            name: "batchd",
            dependencies: ["IPC"]
        ),
        .executableTarget(
            name: "engine-bench",
            dependencies: ["Engine"],
            path: "bench/engine-bench"
        ),
        // epoll and eventfd, which Swift's Glibc module does not map (headers only, nothing to link).
        .systemLibrary(
            name: "CEpoll",
            path: "Sources/CEpoll"
        ),
        // What every daemon shares: framing, connections, the runtime (settings, logging, sockets,
        // readiness, drain), metrics, and each service's messages and client stub.
        .target(
            name: "IPC",
            dependencies: ["CEpoll", "CSystemd"],
            path: "Sources/IPC"
        ),
        .executableTarget(
            name: "ipc-bench",
            dependencies: ["IPC"],
            path: "bench/ipc-bench"
        ),
        .testTarget(
            name: "IPCTests",
            dependencies: ["IPC", "TestSupport"],
            resources: [.copy("Golden")]
        ),
        // epoll(7), eventfd(2) and accept4(2) are not part of Swift's Glibc module; this target exposes them.
        .target(name: "CLinuxIO"),
        .target(
            name: "HTTP",
            dependencies: ["CLinuxIO"]
        ),
        .executableTarget(
            name: "http-bench",
            dependencies: ["HTTP"],
            path: "bench/http-bench"
        ),
        .testTarget(
            name: "HTTPTests",
            dependencies: ["HTTP", "TestSupport"]
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["Engine"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "RuntimeTests",
            dependencies: ["IPC"]
        ),
        // The operator CLI: `inferctl up` runs the whole stack without systemd, the way systemd would.
        .executableTarget(
            name: "inferctl",
            dependencies: ["IPC", "CSystemd"]
        ),
        // Pretends to be any daemon (by its executable's name) with the contract's sockets, for tests of
        // inferctl and of the systemd units before the real daemons exist.
        .executableTarget(
            name: "daemon-standin",
            dependencies: ["IPC"]
        ),
        .testTarget(
            name: "RegistryTests",
            dependencies: ["IPC"]
        ),
        .testTarget(
            name: "InferctlTests",
            dependencies: ["inferctl", "IPC", "TestSupport"]
        ),
        // The HTTP front: validation, routing, SSE; orchestrates limitd, cached and batchd.
        .executableTarget(
            name: "frontd",
            dependencies: ["IPC", "HTTP"]
        ),
        // frontd's parts that need no other daemon: authentication, request validation, webhooks, CORS.
        .testTarget(
            name: "FrontdTests",
            dependencies: ["frontd", "IPC", "HTTP", "TestSupport"]
        ),
        // Gathers every daemon's metrics on each scrape and serves Prometheus text.
        .executableTarget(
            name: "metricsd",
            dependencies: ["IPC", "HTTP"]
        ),
        .testTarget(
            name: "MetricsdTests",
            dependencies: ["metricsd", "IPC"]
        ),
        // Helpers shared by the daemons' test targets.
        .target(
            name: "TestSupport",
            dependencies: ["IPC"],
            path: "Tests/TestSupport"
        ),
        // Rate limits per key (GCRA) and token accounting, on the limitd socket.
        .executableTarget(
            name: "limitd",
            dependencies: ["IPC"]
        ),
        .testTarget(
            name: "LimitdTests",
            dependencies: ["limitd", "IPC", "TestSupport"]
        ),
        // The exact-match response cache (LRU + TTL + byte bound), on the cached socket.
        .executableTarget(
            name: "cached",
            dependencies: ["IPC"]
        ),
        .testTarget(
            name: "CachedTests",
            dependencies: ["cached", "IPC", "TestSupport"]
        ),
        .testTarget(
            name: "ModeldTests",
            dependencies: ["modeld", "Engine", "IPC", "TestSupport"]
        ),
        // Unit tests of the scheduler, and the end-to-end path batchd → modeld (SmolLM2) over real sockets.
        .testTarget(
            name: "BatchdTests",
            dependencies: ["batchd", "modeld", "Engine", "IPC", "TestSupport"]
        ),
    ]
)
