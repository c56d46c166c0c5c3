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
        .executable(name: "modeld", targets: ["modeld"]),
        .executable(name: "engine-bench", targets: ["engine-bench"]),
        .library(name: "HTTP", targets: ["HTTP"]),
        .executable(name: "http-bench", targets: ["http-bench"]),
    ],
    targets: [
        .target(
            name: "Engine",
            swiftSettings: [.unsafeFlags(kernelFlags)]
        ),
        .executableTarget(
            name: "modeld",
            dependencies: ["Engine"]
        ),
        .executableTarget(
            name: "engine-bench",
            dependencies: ["Engine"],
            path: "bench/engine-bench"
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
            dependencies: ["HTTP"]
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["Engine"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
