// The parsers of outside input, each driven by any bytes. Shared (by a link) between the fuzzer in
// fuzz/ and the regression test in the main package (Tests/FuzzRegressionTests), which feeds every
// input a fuzzer ever crashed on through the same code: a parser must answer with a value or an error
// value, never trap, overflow or read out of bounds.
import APIKeys
import Engine
import Foundation
import HTTP
import Metrics
import Registry
import Services
@testable import Upstream
import Wire
#if canImport(frontd)
@testable import frontd
@testable import inferctl
#else
@testable import FrontdParsers
@testable import InferctlParsers
#endif

/// One fuzz target: a name (fuzz/corpus/NAME, fuzz/regressions/NAME) and what it does with the bytes.
struct FuzzTarget: Sendable {
    let name: String
    let run: @Sendable ([UInt8]) -> Void
}

enum FuzzHarness {
    /// Every target, in the order `make fuzz` runs them.
    static let targets: [FuzzTarget] = [
        FuzzTarget(name: "http", run: http),
        FuzzTarget(name: "frames", run: frames),
        FuzzTarget(name: "messages", run: messages),
        FuzzTarget(name: "json", run: json),
        FuzzTarget(name: "gguf", run: gguf),
        FuzzTarget(name: "safetensors", run: safetensors),
        FuzzTarget(name: "keys", run: keys),
        FuzzTarget(name: "registry", run: registry),
        FuzzTarget(name: "envfile", run: envfile),
        FuzzTarget(name: "upstream", run: upstream),
    ]

    static func target(named name: String) -> FuzzTarget? { targets.first { $0.name == name } }

    /// Feeds `bytes` after the first to a decoder in pieces of 1 to 16 bytes (the first byte says), so
    /// its resumption at every boundary is exercised; `drain` takes whatever is whole after each piece.
    /// Stops at the first error.
    static func inPieces(_ bytes: [UInt8], feed: (ArraySlice<UInt8>) -> Void, drain: () throws -> Void) {
        guard let first = bytes.first else { return }
        let piece = Int(first % 16) + 1
        var offset = 1
        while offset < bytes.count {
            feed(bytes[offset..<min(bytes.count, offset + piece)])
            offset += piece
            do { try drain() } catch { return }
        }
    }

    /// HTTP/1.1 requests, pipelined.
    static func http(_ bytes: [UInt8]) {
        var parser = HTTPRequestParser(limits: HTTPLimits())
        inPieces(bytes, feed: { parser.feed($0) }) {
            while let request = try parser.next() { _ = request.headers["Content-Type"] }
        }
    }

    /// IPC frames; every whole frame's payload is also decoded as each control payload.
    static func frames(_ bytes: [UInt8]) {
        var decoder = FrameDecoder(maxPayload: 1 << 16)
        inPieces(bytes, feed: { decoder.feed($0) }) {
            while let frame = try decoder.next() {
                _ = try? HelloPayload(decoding: frame.payload)
                _ = try? ErrorPayload(decoding: frame.payload)
            }
        }
    }

    /// Every message type any daemon decodes: the first byte picks the type (modulo their number), the
    /// rest is its payload. A new message type belongs here.
    static let messageDecoders: [@Sendable ([UInt8]) throws -> Void] = [
        { _ = try HelloPayload(decoding: $0) }, { _ = try ErrorPayload(decoding: $0) },
        { _ = try LimitProtocol.Admit(decoding: $0) }, { _ = try LimitProtocol.AdmitReply(decoding: $0) },
        { _ = try LimitProtocol.Settle(decoding: $0) },
        { _ = try MetricsProtocol.Collect(decoding: $0) }, { _ = try MetricsProtocol.CollectReply(decoding: $0) },
        { _ = try MetricsSnapshot(decoding: $0) }, { _ = try MetricFamily(decoding: $0) },
        { _ = try GenerationProtocol.Message(decoding: $0) }, { _ = try GenerationProtocol.Parameters(decoding: $0) },
        { _ = try GenerationProtocol.Generate(decoding: $0) }, { _ = try GenerationProtocol.Chunk(decoding: $0) },
        { _ = try GenerationProtocol.Done(decoding: $0) }, { _ = try GenerationProtocol.Embed(decoding: $0) },
        { _ = try GenerationProtocol.EmbedReply(decoding: $0) }, { _ = try GenerationProtocol.Route(decoding: $0) },
        { _ = try GenerationProtocol.Health(decoding: $0) }, { _ = try GenerationProtocol.HealthReply(decoding: $0) },
        { _ = try CacheProtocol.Get(decoding: $0) }, { _ = try CacheProtocol.GetReply(decoding: $0) },
        { _ = try CacheProtocol.Put(decoding: $0) }, { _ = try CacheProtocol.SemanticKey(decoding: $0) },
        { _ = try CacheProtocol.SemanticGet(decoding: $0) }, { _ = try CacheProtocol.SemanticGetReply(decoding: $0) },
        { _ = try CacheProtocol.Claim(decoding: $0) }, { _ = try CacheProtocol.ClaimReply(decoding: $0) },
        { _ = try CacheProtocol.Clear(decoding: $0) }, { _ = try CacheProtocol.ClearReply(decoding: $0) },
        { _ = try CacheProtocol.Stats(decoding: $0) }, { _ = try CacheProtocol.StatsReply(decoding: $0) },
        { _ = try LimitProtocol.Budget(decoding: $0) }, { _ = try LimitProtocol.LimitStatus(decoding: $0) },
        { _ = try LimitProtocol.BudgetStatus(decoding: $0) }, { _ = try LimitProtocol.Reserve(decoding: $0) },
        { _ = try LimitProtocol.ReserveReply(decoding: $0) }, { _ = try LimitProtocol.Commit(decoding: $0) },
        { _ = try LimitProtocol.Usage(decoding: $0) }, { _ = try LimitProtocol.UsageReply(decoding: $0) },
        { _ = try LimitProtocol.SpendList(decoding: $0) }, { _ = try LimitProtocol.KeySpend(decoding: $0) },
        { _ = try LimitProtocol.SpendListReply(decoding: $0) },
        { _ = try IdempotencyRecord(decoding: $0) },  // frontd's, read back from cached
        // Appended, not inserted: a seed's first byte is its decoder's index (corpus/messages/mNN).
        { _ = try MetricsSnapshotWithExemplars(decoding: $0) },
        { _ = CachedCompletion(decoding: $0) },  // frontd's cache entries, read back from cached (binary or JSON)
        { _ = try LimitProtocol.AdmitCached(decoding: $0) },
    ]

    static func messages(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let decode = messageDecoders[Int(first) % messageDecoders.count]
        _ = try? decode(Array(bytes.dropFirst()))
    }

    /// frontd's JSON reading (``JSONReader``: the strict one-pass reader) and every request parser on the
    /// object it gives.
    static func json(_ bytes: [UInt8]) {
        guard let object = try? JSONBody.object(bytes) else { return }
        let rules = RequestRules(defaultModel: "smollm2", maxTokensLimit: 4096)
        _ = try? ChatRequest(body: object, rules: rules)
        _ = try? CompletionRequest(body: object, rules: rules)
        _ = try? EmbeddingRequest(body: object)
        _ = try? InferRequest(body: object, rules: rules)
        _ = try? BatchRequest(body: object, rules: rules)
    }

    /// A model file's bytes, written to a file (the loaders map files) and opened as the engine does.
    /// Plain open/write (FileManager writes atomically and syncs: milliseconds an input), in /dev/shm
    /// where there is one.
    static func withFile(_ bytes: [UInt8], suffix: String, _ body: (String) -> Void) {
        let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = directory + "/infer-fuzz-\(getpid()).\(suffix)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(path) }
        if written == bytes.count { body(path) }
    }

    /// A GGUF file: its header and metadata, then what modeld builds from them (tokenizer, chat
    /// template, model configuration and weights).
    static func gguf(_ bytes: [UInt8]) {
        withFile(bytes, suffix: "gguf") { path in
            guard let file = try? GGUFFile(path: path) else { return }
            _ = try? BPETokenizer(gguf: file)
            _ = try? ChatTemplate(gguf: file)
            _ = try? LlamaModel(gguf: file)
        }
    }

    /// A safetensors file: its header, then every tensor read as floats.
    static func safetensors(_ bytes: [UInt8]) {
        withFile(bytes, suffix: "safetensors") { path in
            guard let file = try? SafeTensorsFile(path: path) else { return }
            for name in file.names { _ = try? file.floats(name) }
        }
    }

    /// The API keys file frontd reads.
    static func keys(_ bytes: [UInt8]) {
        _ = try? APIKeyFile.decode(bytes, file: "keys.json")
    }

    /// The model registry.
    static func registry(_ bytes: [UInt8]) {
        _ = try? ModelRegistry.parse(Data(bytes), source: "models.json", baseDirectory: "/nonexistent")
    }

    /// An environment file (systemd's EnvironmentFile= syntax).
    static func envfile(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        _ = try? EnvironmentFile.parse(text, source: "infer.env")
    }

    /// An upstream's answers: the HTTP/1.1 response parser of the event-loop transport in pieces, and
    /// its body as a `text/event-stream`.
    static func upstream(_ bytes: [UInt8]) {
        var parser = HTTP1ResponseParser()
        var events: [HTTP1ResponseParser.Event] = []
        var stream = ServerSentEventParser(limit: 4096)
        inPieces(bytes, feed: { piece in
            do {
                try Array(piece).withUnsafeBytes { raw in try parser.feed(raw, into: &events) }
            } catch {
                events.append(.end(reusable: false))
            }
        }) {
            defer { events.removeAll() }
            for event in events {
                switch event {
                case .head(let status, let headers): _ = (status, headers["content-type"])
                case .body(let body): _ = try stream.feed(body).map(\.isDone)
                case .end: throw HTTP1ResponseParser.Malformed(description: "end")
                }
            }
        }
        _ = parser.finishOnClose()
    }
}
