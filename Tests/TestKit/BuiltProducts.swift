import Foundation

/// The build directory (`.build/<config>`): where `swift build` put the test bundle, the daemons, inferctl
/// and the fixtures (daemon-standin, runtime-probe).
public let buildDirectory: String = {
    let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return URL(fileURLWithPath: testBinary).deletingLastPathComponent().path
}()

/// The executable `name` built beside the test bundle (`.build/<config>/<name>`).
public func builtProduct(_ name: String) -> String {
    buildDirectory + "/" + name
}

/// A program the test runs is not where the build puts it.
public struct MissingProduct: Error, CustomStringConvertible {
    /// Where it was looked for.
    public let path: String

    public init(path: String) { self.path = path }

    public var description: String { "\(path) is not built (swift build --build-tests builds every executable)" }
}
