// swift-tools-version:6.0
// The fuzzers of every parser of outside input, a package of its own so that the main package's
// `swift build` and `swift test` never see libFuzzer. Built and run by run-fuzzers.sh (`make fuzz`):
//   swift build --package-path fuzz -Xswiftc -sanitize=fuzzer,address
// frontd's and inferctl's parsers live in executables, which no package can import: their files are
// linked in (Sources/infer-fuzz/frontd, inferctl) and compiled into the fuzzer itself.
import PackageDescription

let package = Package(
    name: "infer-fuzz",
    dependencies: [.package(name: "infer", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "infer-fuzz",
            dependencies: ["FuzzDriver", .product(name: "FuzzedLibraries", package: "infer")]),
    ]
)
