import Foundation
import Glibc
import Testing
import TestKit

/// Limits on what a client controls, at scale: a per-address connection cap, and 10 000 connections
/// held open by slowloris clients (a header begun, never finished) while ordinary requests are answered
/// and the header timeout then frees them all.
@Suite("frontd's connection limits on a real stack")
struct ConnectionLimitsTests {
    /// A blocking TCP connection to 127.0.0.1:`port`, or -1.
    static func connect(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if !ok { close(fd); return -1 }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) {
        _ = text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// What the server sent on `fd` within `timeout` (empty: nothing, or the connection is still open).
    static func read(_ fd: Int32, timeout: Int32 = 2000) -> String {
        var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&poll, 1, timeout) > 0 else { return "" }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : "<closed>"
    }

    static func chat(_ port: Int, _ key: String) -> CurlResult {
        curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json", "-d",
              #"{"model":"smollm2","messages":[{"role":"user","content":"Hi"}],"max_tokens":2,"temperature":0}"#,
              "http://127.0.0.1:\(port)/v1/chat/completions"], timeout: 60)
    }

    @Test("one address may hold HTTP_MAX_CONNECTIONS_PER_CLIENT connections; the next get 503 and are counted")
    func perClientCap() throws {
        let stack = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")],
                                 environmentFile: ["RATE_LIMIT_RPM=1000000", "HTTP_MAX_CONNECTIONS_PER_CLIENT=40"], realDaemons: true)
        defer { _ = stack.stop() }
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "not ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http")), metrics = try #require(stack.port("metrics-http"))
        let held = (0..<40).map { _ in Self.connect(port) }
        defer { held.forEach { close($0) } }
        #expect(held.allSatisfy { $0 >= 0 })
        Thread.sleep(forTimeInterval: 0.3)
        let extra = (0..<10).map { _ in Self.connect(port) }
        let answers = extra.map { Self.read($0) }
        extra.forEach { close($0) }
        #expect(answers.allSatisfy { $0.hasPrefix("HTTP/1.1 503") }, "\(answers)")
        #expect(Self.chat(port, try stack.key("unlimited")).status == 503, "the 41st connection from this address is refused too")
        held.forEach { close($0) }
        #expect(stack.wait(.seconds(10)) { Self.chat(port, (try? stack.key("unlimited")) ?? "").status == 200 },
                "once the held connections close, the address is served again")
        let exposition = curl(["http://127.0.0.1:\(metrics)/metrics"]).body
        #expect(exposition.contains(#"infer_frontd_refused_connections{reason="per_client"} 11"#), "\(exposition.split(separator: "\n").filter { $0.contains("refused_connections") })")
    }

    @Test("10 000 slowloris connections are held without harm, then freed by the header timeout")
    func tenThousandSlowConnections() throws {
        let stack = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], environmentFile: [
            "RATE_LIMIT_RPM=1000000", "HTTP_MAX_CONNECTIONS_PER_CLIENT=0", "HTTP_MAX_CONNECTIONS=20000", "HTTP_HEADER_TIMEOUT_SEC=12",
        ], realDaemons: true)
        defer { _ = stack.stop() }
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "not ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http")), metrics = try #require(stack.port("metrics-http"))
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        let started = ContinuousClock.now
        for _ in 0..<10_000 {
            let fd = Self.connect(port)
            guard fd >= 0 else { break }
            Self.send(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: infer\r\nContent-Type: app")
            held.append(fd)
        }
        print("10 000 slow connections opened in \(started.duration(to: .now))")
        #expect(held.count == 10_000, "only \(held.count) connections could be opened")
        let open = { () -> Double in
            curl(["http://127.0.0.1:\(metrics)/metrics"]).body.split(separator: "\n")
                .first { $0.hasPrefix("infer_frontd_open_connections ") }.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } ?? -1
        }
        // Read at once: the first of them time out 12 s after they were opened.
        #expect(open() >= 9_000)
        // Ordinary clients are still answered while the slow ones hold their sockets.
        let key = try stack.key("unlimited")
        let during = ContinuousClock.now
        #expect(Self.chat(port, key).status == 200)
        print("a request answered in \(during.duration(to: .now)) with 10 000 slow connections open")
        // The header timeout (12 s) closes every one of them with a 408.
        #expect(stack.wait(.seconds(60)) { open() < 50 }, "the slow connections were not freed: \(open()) open")
        let sample = Self.read(held[0], timeout: 100)
        #expect(sample.hasPrefix("HTTP/1.1 408") || sample == "<closed>", "\(sample)")
        #expect(Self.chat(port, key).status == 200)
    }
}
