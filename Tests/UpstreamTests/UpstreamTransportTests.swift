import Foundation
import Synchronization
import Testing
import TestKit

@testable import Upstream

/// Which transport carries a client's exchanges, and what only the event-loop one has to get right itself
/// (libcurl did it for URLSession): a kept-alive connection the server dropped while idle.
@Suite("Upstream transports")
struct UpstreamTransportTests {
    @Test("http:// goes over the event loop unless INFER_UPSTREAM_TRANSPORT=urlsession or a proxy is set; https:// never")
    func choice() throws {
        let plain = try UpstreamEndpoint(baseURL: "http://127.0.0.1:8000/v1", model: "m")
        let secure = try UpstreamEndpoint(baseURL: "https://127.0.0.1:8000/v1", model: "m")
        #expect(UpstreamTransport.usesEventLoop(plain, choice: .automatic, environment: [:]))
        #expect(!UpstreamTransport.usesEventLoop(plain, choice: .urlSession, environment: [:]))
        #expect(!UpstreamTransport.usesEventLoop(plain, choice: .automatic, environment: ["http_proxy": "http://proxy:3128"]))
        #expect(UpstreamTransport.usesEventLoop(plain, choice: .automatic, environment: ["https_proxy": "http://proxy:3128"]))
        #expect(!UpstreamTransport.usesEventLoop(secure, choice: .automatic, environment: [:]))
        #expect(try UpstreamTransport.fromEnvironment([:]) == .automatic)
        #expect(try UpstreamTransport.fromEnvironment(["INFER_UPSTREAM_TRANSPORT": "URLSession"]) == .urlSession)
        #expect(throws: UpstreamConfigurationError.self) {
            _ = try UpstreamTransport.fromEnvironment(["INFER_UPSTREAM_TRANSPORT": "curl"])
        }
        #expect(try UpstreamClient(endpoint: plain, transport: .automatic).transportName == "event loop")
        #expect(try UpstreamClient(endpoint: plain, transport: .urlSession).transportName == "URLSession")
        #expect(try UpstreamClient(endpoint: secure, transport: .automatic).transportName == "URLSession")
    }

    @Test("a kept-alive connection the server closed while idle is replaced, and the request succeeds",
          arguments: UpstreamTransport.allCases)
    func idleConnectionDropped(transport: UpstreamTransport) async throws {
        let server = try ClosingServer()
        let endpoint = try UpstreamEndpoint(baseURL: "http://127.0.0.1:\(server.port)/v1", model: "m")
        let client = try UpstreamClient(endpoint: endpoint, transport: transport)
        for _ in 0..<3 {
            let response = try await client.call("GET", path: "/health")
            #expect(String(decoding: response.body, as: UTF8.self) == "{\"ok\":true}")
            // Let the server's close arrive before the next request, as an idle timeout's would.
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(server.accepted == 3)
    }
}

/// A server on 127.0.0.1 that answers each connection's first request with a keep-alive answer
/// (HTTP/1.1, no `Connection: close`), then closes the connection: an idle timeout of zero.
final class ClosingServer: @unchecked Sendable {
    let port: Int
    private let descriptor: Int32
    private let count = Mutex(0)

    /// Connections accepted so far.
    var accepted: Int { count.withLock { $0 } }

    init() throws {
        let listener = try SilentListener()
        descriptor = listener.takeDescriptor()
        port = listener.port
        let descriptor = self.descriptor
        Thread.detachNewThread { [weak self] in
            while true {
                let connection = accept(descriptor, nil, nil)
                guard connection >= 0 else { return }
                self?.count.withLock { $0 += 1 }
                var buffer = [UInt8](repeating: 0, count: 4096)
                var received: [UInt8] = []
                while !received.ends(with: Array("\r\n\r\n".utf8)) {
                    let n = read(connection, &buffer, buffer.count)
                    guard n > 0 else { break }
                    received += buffer[0..<n]
                }
                let answer = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}".utf8)
                _ = answer.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                close(connection)
            }
        }
    }

    deinit {
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
