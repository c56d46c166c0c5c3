import Foundation
import HTTP
import Testing
import TestKit

/// A handler that answers `/echo` with what it received, `/slow` after 150 ms, and anything else with the
/// path; used where the test is about the connection, not the handler.
let echoHandler: HTTPServer.Handler = { request, response in
    if request.path == "/slow" {
        try? await Task.sleep(for: .milliseconds(150))
    }
    var body = Array("\(request.method) \(request.target) \(request.body.count) ".utf8)
    body += request.body
    try? response.respond(status: .ok, headers: ["Content-Type": "text/plain", "X-Remote": request.remoteAddress], body: body)
}

private func get(_ path: String, _ extra: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: test\r\n\(extra)\r\n"
}

@Suite("HTTP server over real sockets", .serialized, .timeLimit(.minutes(1)))
struct HTTPServerTests {
    @Test("keep-alive: one connection serves several requests")
    func keepAlive() async throws {
        try await withServer(handler: echoHandler) { port, server in
            let client = try RawHTTPClient(port: port)
            for i in 0..<5 {
                client.send(get("/r\(i)"))
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text.hasPrefix("GET /r\(i) 0"))
                #expect(response.header("Connection") == nil)
                #expect(response.header("Date")?.hasSuffix(" GMT") == true)
                #expect(response.header("X-Remote") == "127.0.0.1")
            }
            #expect(server.stats.acceptedConnections == 1)
            #expect(server.stats.requestsServed == 5)
        }
    }

    @Test("pipelined requests are answered in order, even when the first is slow")
    func pipelining() async throws {
        try await withServer(handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send(get("/slow") + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody" + get("/third"))
            #expect(try client.readResponse().text.hasPrefix("GET /slow 0"))
            #expect(try client.readResponse().text == "POST /echo 4 body")
            #expect(try client.readResponse().text.hasPrefix("GET /third 0"))
        }
    }

    @Test("chunked upload, sent in pieces")
    func chunkedUpload() async throws {
        try await withServer(handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in ["5\r\nhel", "lo\r\n", "6;ext=1\r\n worl", "d\r\n0\r\nX-T: 1\r\n", "\r\n"] {
                client.send(piece)
                try await Task.sleep(for: .milliseconds(10))
            }
            let response = try client.readResponse()
            #expect(response.text == "POST /echo 11 hello world")
            // The connection stays usable.
            client.send(get("/after"))
            #expect(try client.readResponse().status == 200)
        }
    }

    @Test("Expect: 100-continue gets 100 Continue before the body is sent")
    func expectContinue() async throws {
        try await withServer(handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
            let interim = try client.readResponse()
            #expect(interim.status == 100)
            client.send("abc")
            #expect(try client.readResponse().text == "POST /echo 3 abc")
        }
    }

    @Test("a body over the limit gets 413 from its Content-Length, then the connection closes")
    func bodyTooLarge() async throws {
        let limits = HTTPLimits(maxBodyBytes: 1000)
        try await withServer(limits: limits, handler: echoHandler) { port, server in
            let client = try RawHTTPClient(port: port)
            client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "x", count: 2000))
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(response.header("Connection") == "close")
            #expect(response.text.hasPrefix("413 Content Too Large: "))
            #expect(client.closesWithoutReply(within: 3))
            #expect(server.stats.badRequests == 1)
        }
    }

    @Test("chunks over the limit get 413, then the connection closes")
    func chunkedTooLarge() async throws {
        let limits = HTTPLimits(maxBodyBytes: 1000)
        try await withServer(limits: limits, handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            client.send("300\r\n" + String(repeating: "a", count: 0x300) + "\r\n")
            client.send("300\r\n" + String(repeating: "b", count: 0x300) + "\r\n")
            #expect(try client.readResponse().status == 413)
            #expect(client.closesWithoutReply(within: 3))
        }
    }

    @Test("headers over the limit get 431, then the connection closes")
    func headersTooLarge() async throws {
        try await withServer(handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "h", count: 20_000) + "\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 431)
            #expect(client.closesWithoutReply(within: 3))
        }
    }

    @Test("a malformed request gets 400 and the connection closes; a bad version gets 505")
    func badRequests() async throws {
        try await withServer(handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET / HTTP/1.1\r\nHost : t\r\n\r\n")
            #expect(try client.readResponse().status == 400)
            #expect(client.closesWithoutReply(within: 3))
            let other = try RawHTTPClient(port: port)
            other.send("GET / HTTP/3.0\r\nHost: t\r\n\r\n")
            #expect(try other.readResponse().status == 505)
            let smuggler = try RawHTTPClient(port: port)
            smuggler.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            #expect(try smuggler.readResponse().status == 400)
        }
    }

    @Test("slow loris: headers dribbled past the header timeout get 408, then close")
    func slowLoris() async throws {
        let limits = HTTPLimits(headerReadTimeout: .milliseconds(300))
        try await withServer(limits: limits, handler: echoHandler) { port, server in
            let client = try RawHTTPClient(port: port)
            let start = RawHTTPClient.now()
            client.send("GET / HTTP/1.1\r\nHost: t\r\n")
            var line = 0
            while !client.hasInput(within: 0.1) {
                #expect(RawHTTPClient.now() - start < 3, "no 408 after 3 s")
                if RawHTTPClient.now() - start > 3 { break }
                client.send("X-Drip-\(line): x\r\n")
                line += 1
            }
            let response = try client.readResponse()
            #expect(response.status == 408)
            let elapsed = RawHTTPClient.now() - start
            #expect(elapsed >= 0.29 && elapsed < 1.5, "408 after \(elapsed) s")
            #expect(client.closesWithoutReply(within: 3))
            #expect(server.stats.timeouts == 1)
        }
    }

    @Test("a body that stops arriving gets 408 after the body timeout")
    func slowBody() async throws {
        let limits = HTTPLimits(bodyReadTimeout: .milliseconds(200))
        try await withServer(limits: limits, handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            #expect(try client.readResponse().status == 408)
        }
    }

    @Test("an idle keep-alive connection is closed silently after the idle timeout")
    func idleTimeout() async throws {
        let limits = HTTPLimits(idleTimeout: .milliseconds(200))
        try await withServer(limits: limits, handler: echoHandler) { port, server in
            let client = try RawHTTPClient(port: port)
            client.send(get("/"))
            #expect(try client.readResponse().status == 200)
            let start = RawHTTPClient.now()
            #expect(client.closesWithoutReply(within: 3))
            // The server's clock started when it sent the response, a little before ours.
            #expect(RawHTTPClient.now() - start >= 0.1)
            #expect(server.stats.timeouts == 0)
        }
    }

    @Test("a connection that never sends is closed silently after the header timeout")
    func silentConnection() async throws {
        let limits = HTTPLimits(headerReadTimeout: .milliseconds(200))
        try await withServer(limits: limits, handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            #expect(client.closesWithoutReply(within: 3))
        }
    }

    @Test("Connection: close, HTTP/1.0 and HTTP/1.0 keep-alive")
    func connectionSemantics() async throws {
        try await withServer(handler: echoHandler) { port, _ in
            let closing = try RawHTTPClient(port: port)
            closing.send(get("/", "Connection: close\r\n"))
            #expect(try closing.readResponse().header("Connection") == "close")
            #expect(closing.closesWithoutReply(within: 3))

            let old = try RawHTTPClient(port: port)
            old.send("GET /old HTTP/1.0\r\n\r\n")
            let response = try old.readResponse()
            #expect(response.header("Connection") == "close")
            #expect(response.text.hasPrefix("GET /old"))
            #expect(old.closesWithoutReply(within: 3))

            let kept = try RawHTTPClient(port: port)
            kept.send("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try kept.readResponse().header("Connection") == "keep-alive")
            kept.send("GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try kept.readResponse().text.hasPrefix("GET /2"))
        }
    }

    @Test("a handler asking for Connection: close gets it")
    func handlerCloses() async throws {
        try await withServer(handler: { _, response in
            try? response.respond(status: .ok, headers: ["Connection": "close"], body: "bye")
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send(get("/"))
            let response = try client.readResponse()
            #expect(response.header("Connection") == "close")
            #expect(response.text == "bye")
            #expect(client.closesWithoutReply(within: 3))
        }
    }

    @Test("HEAD gets the headers and Content-Length, without a body")
    func head() async throws {
        try await withServer(handler: echoHandler) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + get("/next"))
            let head = try client.readResponse(headOnly: true)
            #expect(head.header("Content-Length") == "\("HEAD /h 0 ".utf8.count)")
            #expect(try client.readResponse().text.hasPrefix("GET /next"))
        }
    }

    @Test("a handler that returns without answering yields a 500, and the connection survives")
    func forgottenResponse() async throws {
        try await withServer(handler: { request, response in
            if request.path == "/ok" { try? response.respond(status: .ok, body: "fine") }
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send(get("/forgot"))
            let response = try client.readResponse()
            #expect(response.status == 500)
            #expect(response.text.contains("no response"))
            client.send(get("/ok"))
            #expect(try client.readResponse().text == "fine")
        }
    }

    @Test("header injection is refused; nothing is sent for the refused response")
    func headerInjection() async throws {
        let errors = SharedValue<[HTTPResponseError]>([])
        try await withServer(handler: { _, response in
            do {
                try response.respond(status: .ok, headers: ["X-Note": "a\r\nSet-Cookie: stolen=1"], body: "x")
            } catch let error as HTTPResponseError {
                errors.update { $0.append(error) }
            } catch {
                Issue.record(error)
            }
            do {
                try response.respond(status: .ok, headers: ["X-Bad\r\nSet-Cookie": "stolen=1"], body: "x")
            } catch let error as HTTPResponseError {
                errors.update { $0.append(error) }
            } catch {
                Issue.record(error)
            }
            do {
                try response.startStream(headers: ["X-Note": "a\nb"])
            } catch let error as HTTPResponseError {
                errors.update { $0.append(error) }
            } catch {
                Issue.record(error)
            }
            do {
                try response.respond(status: HTTPStatus(code: 200, reason: "OK\r\nSet-Cookie: x"))
            } catch let error as HTTPResponseError {
                errors.update { $0.append(error) }
            } catch {
                Issue.record(error)
            }
            try? response.respond(status: .ok, headers: ["X-Note": "safe"], body: "clean")
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send(get("/"))
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "clean")
            #expect(response.header("Set-Cookie") == nil)
            #expect(errors.value == [.invalidHeaderValue, .invalidHeaderName, .invalidHeaderValue, .invalidStatus])
        }
    }

    @Test("answering twice is refused")
    func doubleResponse() async throws {
        let second = SharedValue<HTTPResponseError?>(nil)
        try await withServer(handler: { _, response in
            try? response.respond(status: .ok, body: "first")
            do { try response.respond(status: .ok, body: "second") } catch let error as HTTPResponseError { second.value = error } catch {}
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send(get("/"))
            #expect(try client.readResponse().text == "first")
            // The handler goes on after its response has left.
            for _ in 0..<200 where second.value == nil { try await Task.sleep(for: .milliseconds(5)) }
            #expect(second.value == .alreadyResponded)
        }
    }

    @Test("a streamed response is chunked, and a stream left open is ended")
    func streaming() async throws {
        try await withServer(handler: { request, response in
            try? response.startStream(headers: ["Content-Type": "text/plain"])
            response.write("one ")
            response.write([])  // ignored: an empty chunk would end the stream
            response.write("two ")
            response.write(Array(repeating: UInt8(ascii: "z"), count: 100_000))
            if request.path == "/end" { response.end() }
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            for path in ["/end", "/left-open"] {
                client.send(get(path))
                let response = try client.readResponse()
                #expect(response.header("Transfer-Encoding") == "chunked")
                #expect(response.header("Content-Length") == nil)
                #expect(response.body.count == 8 + 100_000)
                #expect(response.text.hasPrefix("one two zzz"))
            }
        }
    }

    @Test("HTTP/1.0 streams end by closing the connection")
    func streamingHTTP10() async throws {
        try await withServer(handler: { _, response in
            try? response.startStream()
            response.write("a")
            response.write("b")
            response.end()
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.header("Transfer-Encoding") == nil)
            #expect(response.header("Connection") == "close")
            #expect(response.text == "ab")
        }
    }

    @Test("a client that disconnects mid-stream fires onClose and cancels the handler")
    func disconnectDuringStream() async throws {
        let closed = Latch()
        let cancelled = Latch()
        let writesFailed = Latch()
        try await withServer(handler: { _, response in
            response.onClose { closed.signal() }
            try? response.startStream(headers: ["Content-Type": "text/event-stream"])
            response.write("data: first\n\n")
            // Stream until the client leaves: the task is cancelled then.
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
            cancelled.signal()
            if !response.write("data: too late\n\n") && response.isClosed { writesFailed.signal() }
        }) { port, server in
            let client = try RawHTTPClient(port: port)
            client.send(get("/stream"))
            let head = try client.readResponse(headOnly: true)
            #expect(head.status == 200)
            #expect(try client.readChunk() == Array("data: first\n\n".utf8))
            client.hangUp()
            #expect(await closed.wait(.seconds(3)), "onClose did not fire")
            #expect(await cancelled.wait(.seconds(3)), "the handler was not cancelled")
            #expect(await writesFailed.wait(.seconds(3)))
            #expect(server.stats.clientDisconnects == 1)
        }
    }

    @Test("onClose does not fire once the response is complete")
    func onCloseAfterResponse() async throws {
        let closed = Latch()
        try await withServer(handler: { _, response in
            response.onClose { closed.signal() }
            try? response.respond(status: .ok, body: "done")
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send(get("/"))
            #expect(try client.readResponse().text == "done")
            client.hangUp()
            try await Task.sleep(for: .milliseconds(100))
            #expect(!closed.isSignaled)
        }
    }

    @Test("connections beyond the limit get 503")
    func connectionLimit() async throws {
        let limits = HTTPLimits(maxConnections: 1)
        try await withServer(limits: limits, handler: echoHandler) { port, server in
            let first = try RawHTTPClient(port: port)
            first.send(get("/"))
            #expect(try first.readResponse().status == 200)
            let second = try RawHTTPClient(port: port)
            let refused = try second.readResponse()
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            #expect(server.stats.rejectedConnections == 1)
            first.send(get("/still"))
            #expect(try first.readResponse().status == 200)
        }
    }

    @Test("drain: idle connections close, requests in progress finish with Connection: close")
    func drain() async throws {
        let fd = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { close(fd) }
        let port = try #require(TCPListener.localPort(of: fd))
        let drainStarted = Latch()
        let server = HTTPServer(listenFD: fd, eventLoops: 2) { request, response in
            if request.path == "/busy" { _ = await drainStarted.wait(.seconds(5)) }
            await echoHandler(request, response)
        }
        try server.start()
        let idle = try RawHTTPClient(port: port)
        idle.send(get("/"))
        #expect(try idle.readResponse().status == 200)
        let busy = try RawHTTPClient(port: port)
        busy.send(get("/busy"))
        try await Task.sleep(for: .milliseconds(30))
        let start = RawHTTPClient.now()
        async let drained: Void = server.drain(timeout: .seconds(5))
        while !server.isDraining { try await Task.sleep(for: .milliseconds(2)) }
        drainStarted.signal()
        #expect(idle.closesWithoutReply(within: 3))
        let response = try busy.readResponse()
        #expect(response.status == 200)
        #expect(response.header("Connection") == "close")
        #expect(busy.closesWithoutReply(within: 3))
        await drained
        #expect(RawHTTPClient.now() - start < 2)
        #expect(server.stats.openConnections == 0)
        #expect(throws: (any Error).self) {
            let late = try RawHTTPClient(port: port)
            late.send(get("/"))
            _ = try late.readResponse(timeout: 0.3)
        }
    }

    @Test("drain force-closes what outlives its timeout")
    func drainTimeout() async throws {
        let cancelled = Latch()
        let fd = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { close(fd) }
        let port = try #require(TCPListener.localPort(of: fd))
        let server = HTTPServer(listenFD: fd, eventLoops: 1) { _, _ in
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
            cancelled.signal()
        }
        try server.start()
        let client = try RawHTTPClient(port: port)
        client.send(get("/forever"))
        try await Task.sleep(for: .milliseconds(50))
        let start = RawHTTPClient.now()
        await server.drain(timeout: .milliseconds(200))
        #expect(RawHTTPClient.now() - start < 2)
        #expect(client.closesWithoutReply(within: 3))
        #expect(await cancelled.wait(.seconds(3)))
    }

    @Test("many connections on two event loops")
    func manyConnections() async throws {
        try await withServer(eventLoops: 2, handler: echoHandler) { port, server in
            var clients: [RawHTTPClient] = []
            for _ in 0..<50 { clients.append(try RawHTTPClient(port: port)) }
            for round in 0..<3 {
                for (i, client) in clients.enumerated() { client.send(get("/c\(i)/\(round)")) }
                for (i, client) in clients.enumerated() {
                    #expect(try client.readResponse().text.hasPrefix("GET /c\(i)/\(round) "))
                }
            }
            #expect(server.stats.requestsServed == 150)
            #expect(server.stats.openConnections == 50)
        }
    }

    @Test("a handler that awaits other executors still answers in order")
    func handlerHopsExecutors() async throws {
        actor Counter {
            var value = 0
            func next() -> Int {
                value += 1
                return value
            }
        }
        let counter = Counter()
        try await withServer(handler: { _, response in
            let n = await counter.next()
            let detached = await Task.detached { n * 10 }.value
            try? response.respond(status: .ok, body: "\(detached)")
        }) { port, _ in
            let client = try RawHTTPClient(port: port)
            client.send(get("/") + get("/") + get("/"))
            #expect(try client.readResponse().text == "10")
            #expect(try client.readResponse().text == "20")
            #expect(try client.readResponse().text == "30")
        }
    }
}
