import Basics
import DaemonRuntime
import Foundation
import Glibc
import IPC
import Synchronization

// Shared by the daemons' test targets (limitd, cached): clocks, temporary directories, built products.

/// A clock the test moves by hand, in nanoseconds.
public final class ManualClock: Sendable {
    private let nanoseconds: Atomic<Int64>

    public init(start: Int64 = 1_000_000_000_000) {
        nanoseconds = Atomic(start)
    }

    /// The current time.
    public var now: Int64 { nanoseconds.load(ordering: .sequentiallyConsistent) }

    /// Moves the clock on.
    public func advance(by duration: Int64) {
        nanoseconds.add(duration, ordering: .sequentiallyConsistent)
    }
}

/// Nanoseconds in a second and a millisecond, for readable test arithmetic.
public let second: Int64 = 1_000_000_000
public let millisecond: Int64 = 1_000_000

/// A fresh short directory under /tmp (socket paths must fit in 108 bytes), removed at deinit.
public final class TemporaryDirectory {
    public let path: String

    public init() throws {
        var template = Array("/tmp/infer-t-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard let made else { throw SocketError(operation: "mkdtemp", errno: errno) }
        path = String(cString: made)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String { path + "/" + name }
}

/// A logger that drops everything, so tests stay quiet.
public let quietLogger = Logger(daemon: "test", level: .error, output: .lines { _ in })

/// The executable of a product built beside the test bundle (`.build/<config>/<name>`).
public func builtProduct(_ name: String) -> String {
    let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent(name).path
}

/// A product the test runs is not where the build puts it.
public struct MissingProduct: Error, CustomStringConvertible {
    public let path: String
    public init(path: String) { self.path = path }
    public var description: String { "\(path) is not built (swift build builds every product)" }
}

/// A test step took longer than its bound.
public struct TestTimeout: Error, CustomStringConvertible {
    public let what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out: \(what)" }
}

/// Runs `operation`, failing with ``TestTimeout`` if it takes longer than `limit`.
public func withTimeout<T: Sendable>(
    _ limit: Duration, _ what: String = "operation", _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TestTimeout(what: what)
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw TestTimeout(what: what) }
        return result
    }
}

/// Polls `condition` every 10 ms until it holds or `limit` passes.
public func eventually(_ limit: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let end = ContinuousClock.now + limit
    while ContinuousClock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

