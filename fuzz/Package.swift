// swift-tools-version:6.0
// The fuzzers of every parser of outside input, a package of its own so that the main package's
// `swift build` and `swift test` never see libFuzzer. Built and run by run-fuzzers.sh (`make fuzz`):
//   swift build --package-path fuzz -Xswiftc -sanitize=fuzzer,address
// frontd's and inferctl's parsers live in executables, which no package can import: their source
// folders are linked in (Sources/FrontdParsers, InferctlParsers) and compiled here as libraries, all
// but main.swift, so the fuzzer follows whatever those folders hold.
import PackageDescription

let package = Package(
    name: "infer-fuzz",
    dependencies: [.package(name: "infer", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .target(name: "FrontdParsers", dependencies: [.product(name: "FuzzedLibraries", package: "infer")],
                exclude: ["main.swift", "README.md"]),
        .target(name: "InferctlParsers", dependencies: [.product(name: "FuzzedLibraries", package: "infer")],
                exclude: ["main.swift", "README.md"]),
        .executableTarget(
            name: "infer-fuzz",
            dependencies: ["FuzzDriver", "FrontdParsers", "InferctlParsers",
                           .product(name: "FuzzedLibraries", package: "infer")]),
    ]
)
