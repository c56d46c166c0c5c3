import DaemonRuntime
import Foundation
import Synchronization

/// The lines a logger wrote, kept in memory: `Logger(daemon: "x", output: capture.output)`.
public final class LogCapture: Sendable {
    private let lines = Mutex<[[UInt8]]>([])

    /// An empty capture.
    public init() {}

    /// The output to give the logger under test.
    public var output: LogOutput {
        .lines { [self] line in lines.withLock { $0.append(line) } }
    }

    /// Every line written so far, as written (each ends with its newline).
    public var all: [[UInt8]] { lines.withLock { $0 } }

    /// Everything written so far, as text.
    public var text: String { all.map { String(decoding: $0, as: UTF8.self) }.joined() }

    /// Each line parsed as a JSON object (nil for a line that is not one).
    public var objects: [[String: Any]?] {
        all.map { line in
            (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
        }
    }
}
