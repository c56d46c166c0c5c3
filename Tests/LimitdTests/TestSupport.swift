import Foundation
import Glibc
import IPC
import Synchronization

/// A clock the test moves by hand, in nanoseconds.
final class ManualClock: Sendable {
    private let nanoseconds: Atomic<Int64>

    init(start: Int64 = 1_000_000_000_000) {
        nanoseconds = Atomic(start)
    }

    /// The current time.
    var now: Int64 { nanoseconds.load(ordering: .sequentiallyConsistent) }

    /// Moves the clock on.
    func advance(by duration: Int64) {
        nanoseconds.add(duration, ordering: .sequentiallyConsistent)
    }
}

/// Nanoseconds in a second and a millisecond, for readable test arithmetic.
let second: Int64 = 1_000_000_000
let millisecond: Int64 = 1_000_000

/// A fresh short directory under /tmp (socket paths must fit in 108 bytes), removed at deinit.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/limitd-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard let made else { throw SocketError(operation: "mkdtemp", errno: errno) }
        path = String(cString: made)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

/// A logger that drops everything, so tests stay quiet.
let quietLogger = Logger(daemon: "limitd-test", level: .error, output: .lines { _ in })

/// The executable of a product built beside the test bundle (`.build/<config>/<name>`).
func builtProduct(_ name: String) -> String {
    let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent(name).path
}

/// A product the test runs is not where the build puts it.
struct MissingProduct: Error, CustomStringConvertible {
    let path: String
    var description: String { "\(path) is not built (swift build builds every product)" }
}
