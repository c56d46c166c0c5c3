import Glibc
import HTTP
import Testing
import TestKit

/// Back-pressure in both directions, and the listener. These belong to the serialized server suite:
/// their blocking socket reads must not starve each other of the cooperative thread pool.
extension HTTPServerTests {
    @Test("a flood of pipelined requests behind a slow one is answered in order")
    func pipelinedFlood() async throws {
        try await withServer(handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            let count = 3000  // about 100 KB: more than the server buffers before it stops reading
            var batch = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
            for i in 1..<count { batch += "GET /p\(i) HTTP/1.1\r\nHost: t\r\n\r\n" }
            #expect(client.send(batch))
            #expect(try client.readResponse().text.hasPrefix("GET /slow"))
            for i in 1..<count {
                let response = try client.readResponse()
                if !response.text.hasPrefix("GET /p\(i) ") {
                    Issue.record("response \(i) was \(response.text)")
                    break
                }
            }
        }
    }

    @Test("a large response to a client that reads late arrives whole")
    func largeResponseToSlowReader() async throws {
        let body = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 % 251) }
        try await withServer(handler: { _, response in
            try? response.respond(status: .ok, body: body)
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            try await Task.sleep(for: .milliseconds(200))
            let response = try client.readResponse(timeout: 10)
            #expect(response.body.count == body.count)
            #expect(response.body == body)
        }
    }

    @Test("a client that never reads is dropped once too much output is queued")
    func slowConsumerDropped() async throws {
        let limits = HTTPLimits(maxPendingOutputBytes: 1 << 20)
        let refused = Latch()
        try await withServer(limits: limits, handler: { _, response in
            try? response.startStream()
            let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
            for _ in 0..<1000 {
                if !response.write(chunk) {
                    refused.signal()
                    return
                }
            }
        }) { port, server in
            let client = try RawHTTPClient(port: port)
            var size: Int32 = 4096
            setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            client.send("GET /firehose HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(await refused.wait(.seconds(5)))
            #expect(server.stats.openConnections == 0 || server.stats.clientDisconnects == 1)
        }
    }

    @Test("TCPListener binds IPv4 and IPv6 loopback, reports its port, and names bad hosts")
    func listener() async throws {
        let v4 = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { close(v4) }
        let v4Port = try #require(TCPListener.localPort(of: v4))
        #expect(v4Port > 0)

        let v6: Int32
        do {
            v6 = try TCPListener.bind(host: "[::1]", port: 0)
        } catch {
            // No IPv6 loopback in this sandbox: nothing more to check here.
            return
        }
        defer { close(v6) }
        #expect(TCPListener.localPort(of: v6) != nil)

        #expect(throws: HTTPServerError.self) { try TCPListener.bind(host: "not a host", port: 0) }
        #expect(throws: HTTPServerError.self) { try TCPListener.bind(host: "127.0.0.1", port: 70000) }
        do {
            _ = try TCPListener.bind(host: "127.0.0.1", port: v4Port)
            Issue.record("binding a port in use succeeded")
        } catch {
            #expect(error.description.contains("127.0.0.1:\(v4Port)"))
        }
    }

    @Test("a server on an IPv6 socket reports IPv6 peers")
    func ipv6Peer() async throws {
        guard let fd = try? TCPListener.bind(host: "::1", port: 0), let port = TCPListener.localPort(of: fd) else {
            return  // no IPv6 loopback here
        }
        defer { close(fd) }
        let server = HTTPServer(listenFD: fd, eventLoops: 1) { request, response in
            try? response.respond(status: .ok, body: request.remoteAddress)
        }
        try server.start()
        let socketFD = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socketFD) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port)).bigEndian
        address.sin6_addr.__in6_u.__u6_addr8.15 = 1
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        #expect(connected == 0)
        let request = Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(socketFD, $0.baseAddress, $0.count, 0) }
        var reply = [UInt8](repeating: 0, count: 4096)
        var total = 0
        while true {
            let n = reply.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress! + total, $0.count - total, 0) }
            if n <= 0 { break }
            total += n
        }
        #expect(String(decoding: reply[0..<total], as: UTF8.self).hasSuffix("\r\n\r\n::1"))
        await server.drain(timeout: .milliseconds(100))
    }
}

@Suite("HTTP headers and statuses")
struct HTTPHeadersTests {
    @Test("lookup is case-insensitive and keeps order and duplicates")
    func lookup() {
        var headers: HTTPHeaders = ["Content-Type": "a", "X-Multi": "1"]
        headers.add(name: "x-multi", value: "2")
        #expect(headers["content-type"] == "a")
        #expect(headers.values(for: "X-MULTI") == ["1", "2"])
        headers.replaceOrAdd(name: "X-Multi", value: "3")
        #expect(headers.values(for: "x-multi") == ["3"])
        headers.remove(name: "CONTENT-TYPE")
        #expect(!headers.contains("content-type"))
        #expect(headers.count == 1)
        #expect(HTTPHeaders.nameEquals("Content-Length", "content-length"))
        #expect(!HTTPHeaders.nameEquals("Content-Length", "content-lengtX"))
    }

    @Test("standard reason phrases")
    func reasons() {
        #expect(HTTPStatus(code: 429).reason == "Too Many Requests")
        #expect(HTTPStatus(code: 299).reason == "")
        #expect(HTTPStatus.contentTooLarge.code == 413)
    }
}
