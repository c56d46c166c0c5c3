import Engine
import Foundation
import Glibc
import IPC
import Synchronization
import Testing
import TestKit

@testable import modeld
import DaemonRuntime
import Services

/// A fresh directory for sockets and files, short enough for sockaddr_un.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/infer-md-XXXXXX".utf8CString)
        let made: String? = template.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
            return String(cString: result)
        }
        guard let made else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        path = made
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

let quietLogger = Logger(daemon: "test", level: .error)

/// A model file a test needs is not on this machine.
struct ModelNotFound: Error, CustomStringConvertible {
    let description: String
}

/// The SmolLM2 GGUF file: under `$INFER_MODELS_DIR`, or the first `models/` folder up from this file.
func smollm2Path(file: StaticString = #filePath) throws -> String {
    let relative = "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    var candidates: [String] = []
    if let env = ProcessInfo.processInfo.environment["INFER_MODELS_DIR"], !env.isEmpty {
        candidates.append("\(env)/\(relative)")
    }
    var directory = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
    while directory.path != "/" && !directory.path.isEmpty {
        candidates.append(directory.appendingPathComponent("models/\(relative)").path)
        directory = directory.deletingLastPathComponent()
    }
    guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
        throw ModelNotFound(description: "models/\(relative) not found (looked at \(candidates.joined(separator: ", "))); run scripts/fetch-models.sh")
    }
    return found
}

/// SmolLM2, loaded once for every test.
enum SmolLM2 {
    static let shared: Result<ChatModel, any Error> = Result { try ChatModel(path: try smollm2Path()) }
    static func get() throws -> ChatModel { try shared.get() }

    /// What the engine generates for these tokens alone (greedy): the reference for served outputs.
    static func solo(_ tokens: [Int32], maxTokens: Int) throws -> (text: String, completion: Int, finish: String) {
        let chat = try get()
        let decoder = BatchDecoder(model: chat.model, tokenizer: chat.tokenizer, maxBatch: 1)
        try decoder.add(id: 0, prompt: tokens, parameters: .greedy(maxTokens: maxTokens))
        var text = ""
        var last: BatchDecoder.Event?
        while !decoder.isEmpty {
            for event in try decoder.step() {
                text += event.text
                last = event
            }
        }
        return (text, last?.completionTokens ?? 0, last?.finish?.rawValue ?? "")
    }
}

/// A modeld service on a real socket in a temporary directory.
struct ModeldHarness {
    let directory: TemporaryDirectory
    let listenFD: Int32
    let service: ModelService
    let client: GenerationClient
    var metrics: ModelMetrics { service.metrics }

    init(name: String = "smollm2", model: LoadedModel, options: ModelOptions = ModelOptions()) throws {
        directory = try TemporaryDirectory()
        let socket = directory.file("modeld-\(name).sock")
        listenFD = try UnixSocket.listen(path: socket)
        service = try ModelService(name: name, model: model, options: options, listenFD: listenFD, logger: quietLogger)
        client = GenerationClient(path: socket, protocolName: ServiceName.modeld)
    }

    func close() async {
        client.client.close()
        await service.shutdown()
        Glibc.close(listenFD)
        directory.remove()
    }

    func generate(messages: [GenerationProtocol.Message] = [], prompt: String = "", model: String = "smollm2",
                  parameters: GenerationProtocol.Parameters = .init(maxTokens: 8, temperature: 0), timeout: Duration = .seconds(60))
        -> AsyncThrowingStream<GenerationProtocol.Event, any Error> {
        client.generate(
            GenerationProtocol.Generate(requestID: "test", model: model, messages: messages, prompt: prompt, parameters: parameters),
            timeout: timeout)
    }
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

/// The remote error a failed call carried, or nil.
func remoteError(_ error: (any Error)?) -> (code: UInt16, message: String)? {
    if case let IPCError.remote(code, message)? = error { return (code, message) }
    return nil
}

/// A list that several threads append to.
final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
}
