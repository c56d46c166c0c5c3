import Foundation
import Glibc

/// tests-python/otlp_receiver.py running as a child process on 127.0.0.1 (a free port): an OTLP/HTTP
/// trace receiver that decodes with the official protobuf definitions (PyPI's `opentelemetry-proto`, in
/// `.venv-test`) and keeps each span as a JSON line. Point a stack's `OTEL_EXPORTER_OTLP_ENDPOINT` at
/// ``endpoint``.
public final class OTLPReceiver: Sendable {
    public let port: Int
    /// Where the spans are written.
    public let file: String
    private let program: PipedProgram

    private init(port: Int, file: String, program: PipedProgram) {
        self.port = port
        self.file = file
        self.program = program
    }

    /// The interpreter of the test tools' venv.
    public static var python: String { packageRoot + "/.venv-test/bin/python" }

    /// Starts the receiver, writing spans to `file`.
    /// - Throws: ``HarnessError`` when the venv is missing, or when the receiver prints no port.
    public static func start(file: String) async throws -> OTLPReceiver {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw HarnessError("\(python) is missing: run scripts/install-test-tools.sh (make test does)")
        }
        let peer = try await PythonPeer.start(python: python, script: "otlp_receiver.py", arguments: ["--out", file])
        return OTLPReceiver(port: peer.port, file: file, program: peer.program)
    }

    deinit {
        stop()
    }

    /// The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Stops the receiver.
    public func stop() {
        PythonPeer.stop(program)
    }

    /// Every span received so far, as the receiver wrote it.
    public func spans() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The spans of one trace.
    public func spans(trace: String) -> [[String: Any]] {
        spans().filter { $0["trace_id"] as? String == trace }
    }
}
