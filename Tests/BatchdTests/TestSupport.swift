import DaemonRuntime
import Foundation
import Glibc
import IPC
import Metrics
import Services
import Synchronization
import Testing
import TestKit

/// A fresh directory for sockets, short enough for sockaddr_un, removed by ``remove()``.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/infer-bd-XXXXXX".utf8CString)
        let made: String? = template.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
            return String(cString: result)
        }
        guard let made else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        path = made
    }

    func socket(_ name: String) -> String { "\(path)/\(name).sock" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A logger that keeps tests quiet unless something is really wrong.
let quietLogger = Logger(daemon: "test", level: .error)

/// Builds CHUNK and END payloads as modeld sends them.
enum Frames {
    static func chunk(_ text: String, _ tokens: UInt32) -> [UInt8] {
        GenerationFrameTag.payload(GenerationProtocol.Chunk(text: text, completionTokens: tokens))
    }

    static func done(_ finish: String = "stop", prompt: UInt32 = 3, completion: UInt32) -> [UInt8] {
        GenerationFrameTag.payload(GenerationProtocol.Done(finishReason: finish, promptTokens: prompt, completionTokens: completion, batchSize: 1))
    }
}

/// Counts and flags shared between a stand-in and the test.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    @discardableResult
    func increment() -> Int { value.add(1, ordering: .sequentiallyConsistent).newValue }
    var current: Int { value.load(ordering: .sequentiallyConsistent) }
}

/// Collects the events of a generation; throws what the stream throws.
func collect(_ stream: AsyncThrowingStream<GenerationProtocol.Event, any Error>) async throws -> (text: String, chunks: Int, done: GenerationProtocol.Done?) {
    var text = ""
    var chunks = 0
    var done: GenerationProtocol.Done?
    for try await event in stream {
        switch event {
        case .chunk(let chunk):
            text += chunk.text
            chunks += 1
        case .done(let d):
            done = d
        case .route:
            break
        }
    }
    return (text, chunks, done)
}

/// The remote error code a failed call carried, or nil.
func remoteCode(_ error: any Error) -> UInt16? {
    if case let IPCError.remote(code, _) = error { return code }
    return nil
}

/// Sum of a histogram's observations above `threshold` (from its cumulative buckets), by labels.
func observations(in registry: MetricsRegistry, _ name: String, above threshold: Double) -> UInt64 {
    guard let family = registry.snapshot().first(where: { $0.name == name }) else { return 0 }
    var total: UInt64 = 0
    for sample in family.samples {
        let atOrBelow = Array(zip(family.buckets, sample.bucketCounts)).last(where: { $0.0 <= threshold })?.1 ?? 0
        total += sample.count - atOrBelow
    }
    return total
}

/// Observations of a histogram (all series).
func observationCount(in registry: MetricsRegistry, _ name: String) -> UInt64 {
    registry.snapshot().first(where: { $0.name == name })?.samples.reduce(0) { $0 + $1.count } ?? 0
}

/// A list that several tasks append to.
final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
    var count: Int { items.withLock { $0.count } }
}
