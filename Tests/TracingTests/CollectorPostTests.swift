import Foundation
import Glibc
import Testing
import TestKit
@testable import Tracing
import Wire

/// The exporter's own plain-HTTP POST, against the real OTLP receiver (tests-python/otlp_receiver.py,
/// which decodes with the official protobuf definitions) and against answers written by hand.
@Suite("OTLP export over the exporter's own HTTP/1.1 POST")
struct CollectorPostTests {
    @Test("spans exported to the real OTLP receiver arrive whole, with their resource")
    func realReceiver() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let receiver = try await OTLPReceiver.start(file: directory.file("spans.jsonl"))
        defer { receiver.stop() }
        let url = try #require(URL(string: receiver.endpoint + "/v1/traces"))
        let exporter = OTLPHTTPExporter(endpoint: url, headers: [("x-tenant", "acme")],
                                        resource: [("service.name", .string("post-test"))], timeout: .seconds(5))
        let tracer = Tracer(serviceName: "post-test", processor: BatchSpanProcessor(exporter: exporter))
        let root = tracer.startSpan("root", kind: .server, parent: nil)
        tracer.startSpan("child", parent: root.context).end()
        root.end()
        tracer.shutdown(timeout: .seconds(5))
        let spans = receiver.spans(trace: root.context.traceID.hex)
        #expect(Set(spans.compactMap { $0["name"] as? String }) == ["root", "child"])
        #expect(spans.allSatisfy { $0["service"] as? String == "post-test" }, "\(spans)")
    }

    @Test("a collector's answer: 2xx is taken, anything else fails the batch; 100 Continue is skipped")
    func statuses() async throws {
        for (answer, taken) in [("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
                                ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", true),
                                ("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", false),
                                ("SSH-2.0-OpenSSH_9.2\r\n\r\n", false)] {
            let server = try OneAnswerServer(answer: answer)
            let url = try #require(URL(string: "http://127.0.0.1:\(server.port)/v1/traces?tenant=a%20b"))
            let exporter = OTLPHTTPExporter(endpoint: url, headers: [("api-key", "secret")], resource: [], timeout: .seconds(5))
            #expect(exporter.export([]) == taken, "\(answer)")
            let request = String(decoding: server.received(), as: UTF8.self)
            #expect(request.hasPrefix("POST /v1/traces?tenant=a%20b HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n"), "\(request)")
            #expect(request.contains("\r\napi-key: secret\r\n") && request.contains("\r\nContent-Type: application/x-protobuf\r\n"))
        }
    }

    @Test("a collector that never answers fails the batch at the timeout")
    func silentCollector() throws {
        let server = try OneAnswerServer(answer: nil)
        let url = try #require(URL(string: "http://127.0.0.1:\(server.port)/v1/traces"))
        let exporter = OTLPHTTPExporter(endpoint: url, headers: [], resource: [], timeout: .milliseconds(300))
        let started = ContinuousClock.now
        #expect(!exporter.export([]))
        let waited = started.duration(to: .now)
        #expect(waited >= .milliseconds(250) && waited < .seconds(3), "\(waited)")
    }

    @Test("an https:// endpoint is never contacted: the exporter has no TLS")
    func httpsRefused() throws {
        let url = try #require(URL(string: "https://127.0.0.1:1/v1/traces"))
        #expect(CollectorPost.Target(url) == nil)
        #expect(!OTLPHTTPExporter(endpoint: url, headers: [], resource: [], timeout: .seconds(1)).export([]))
        #expect(OTLPHTTPExporter.schemes == ["http"])
    }

    @Test("the request target and Host header from the URL: default port, IPv6, empty path")
    func targets() throws {
        let plainURL = try #require(URL(string: "http://collector/v1/traces"))
        let plain = try #require(CollectorPost.Target(plainURL))
        #expect(plain.host == "collector" && plain.port == 80 && plain.hostHeader == "collector" && plain.pathAndQuery == "/v1/traces")
        let v6URL = try #require(URL(string: "http://[::1]:4318"))
        let v6 = try #require(CollectorPost.Target(v6URL))
        #expect(v6.host == "::1" && v6.port == 4318 && v6.hostHeader == "[::1]:4318" && v6.pathAndQuery == "/")
    }

    @Test("OTEL_EXPORTER_OTLP_HEADERS: a value that decodes to a line break is refused, not sent")
    func headerInjection() {
        #expect(OTLPHTTPExporter.parseHeaders("a=b%0D%0AHost: evil") == nil)
        #expect(OTLPHTTPExporter.parseHeaders("a=tab%09ok")?.first?.value == "tab\tok")
        #expect(OTLPHTTPExporter.parseHeaders("a=100%")?.first?.value == "100%")
    }
}

/// A TCP server on 127.0.0.1 that accepts one connection, reads the request's head and body (by its
/// Content-Length), writes `answer` (none: keeps silent) and closes; ``received()`` gives what it read.
private final class OneAnswerServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)
    private var request: [UInt8] = []

    init(answer: String?) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound, listen(fd, 1) == 0 else {
            close(fd)
            throw HarnessError("cannot listen: errno \(errno)")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in
            let connection = accept(fd, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 65536)
            var received: [UInt8] = []
            while !Self.complete(received) {
                let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                received += buffer[..<count]
            }
            request = received
            if let answer {
                _ = Array(answer.utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            } else {
                var ignored = [UInt8](repeating: 0, count: 1)
                _ = recv(connection, &ignored, 1, 0)  // until the client gives up
            }
            close(connection)
            done.signal()
        }
    }

    deinit { close(listener) }

    /// What the client sent, once the server is done with it.
    func received() -> [UInt8] {
        _ = done.wait(timeout: .now() + 10)
        return request
    }

    private static func complete(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<headEnd.lowerBound].lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        return text.utf8.count - text.utf8.distance(from: text.startIndex, to: headEnd.upperBound) >= length
    }
}
