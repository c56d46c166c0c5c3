import Glibc
import HTTP
import Synchronization
import TestKit

/// The raw-socket HTTP client the tests drive the server with (shared with InferctlTests).
typealias TestClient = RawHTTPClient

/// A flag one side sets and the other waits for, across threads and tasks.
final class TestFlag: Sendable {
    private let state = Mutex(false)

    func set() { state.withLock { $0 = true } }

    var isSet: Bool { state.withLock { $0 } }

    /// Waits up to `timeout` seconds for the flag; returns whether it was set.
    func wait(timeout: Double) async -> Bool {
        let deadline = TestClient.now() + timeout
        while !isSet {
            if TestClient.now() > deadline { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}

/// A value shared between a handler and a test.
final class TestBox<Value: Sendable>: Sendable {
    private let state: Mutex<Value>

    init(_ value: Value) { state = Mutex(value) }

    var value: Value {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }

    func update(_ body: (inout Value) -> Void) { state.withLock { body(&$0) } }
}

/// Runs `body` against a server on 127.0.0.1 with an ephemeral port, then drains it.
func withServer(
    limits: HTTPLimits = HTTPLimits(),
    eventLoops: Int = 1,
    requestIDs: HTTPServer.RequestIDGenerator? = nil,
    errorBody: @escaping ErrorReply.Writer = ErrorReply.plainText,
    handler: @escaping HTTPServer.Handler,
    _ body: (_ port: Int, _ server: HTTPServer) async throws -> Void
) async throws {
    let fd = try TCPListener.bind(host: "127.0.0.1", port: 0)
    defer { close(fd) }
    guard let port = TCPListener.localPort(of: fd) else { throw RawHTTPClient.ReadFailure.connect("no local port") }
    let server = HTTPServer(listenFD: fd, limits: limits, eventLoops: eventLoops, requestIDs: requestIDs, errorBody: errorBody,
                            handler: handler)
    try server.start()
    do {
        try await body(port, server)
    } catch {
        await server.drain(timeout: .zero)
        throw error
    }
    await server.drain(timeout: .milliseconds(200))
}
