import Glibc
import HTTP
import TestKit

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
