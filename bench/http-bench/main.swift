// http-bench: the HTTP target alone, answering every request with a fixed ~300-byte JSON body (the size of
// a small cached completion), for wrk. Stops on SIGINT/SIGTERM.
// Usage: http-bench [port] [event-loops] [mode]
//   mode `direct` (default): answer at once; `yield`: suspend once on the loop first; `hop`: await an
//   actor first (a round trip through the global executor, as an IPC reply would resume the handler).
import Glibc
import HTTP

let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 8088 : 8088
let loops = arguments.count > 2 ? Int(arguments[2]) ?? HTTPServer.defaultEventLoopCount : HTTPServer.defaultEventLoopCount
let mode = arguments.count > 3 ? arguments[3] : "direct"

/// Stands in for another component the handler awaits (an IPC client's actor).
actor Elsewhere {
    var calls = 0
    func call() -> Int {
        calls += 1
        return calls
    }
}
let elsewhere = Elsewhere()

// Signals are taken by sigwait below; block them before any thread starts so every thread inherits that.
var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGINT)
sigaddset(&signals, SIGTERM)
pthread_sigmask(SIG_BLOCK, &signals, nil)

let body = Array("""
{"id":"cmpl-7a1c0e5b9f3d4c2a","object":"text_completion","created":1732350000,"model":"smollm2-135m",\
"choices":[{"index":0,"text":"The capital of France is Paris.","finish_reason":"stop","logprobs":null}],\
"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20},"cached":true,"latency_ms":0}
""".utf8)

func fail(_ message: String) -> Never {
    FileDescriptorOutput.standardError("http-bench: \(message)\n")
    exit(1)
}

enum FileDescriptorOutput {
    static func standardError(_ text: String) {
        var text = text
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

let listenFD: Int32
do {
    listenFD = try TCPListener.bind(host: "127.0.0.1", port: port)
} catch {
    fail("\(error)")
}
let server = HTTPServer(listenFD: listenFD, eventLoops: loops) { _, response in
    switch mode {
    case "yield": await Task.yield()
    case "hop": _ = await elsewhere.call()
    default: break
    }
    try? response.respond(status: .ok, headers: ["Content-Type": "application/json"], body: body)
}
do {
    try server.start()
} catch {
    fail("\(error)")
}
print("http-bench: listening on 127.0.0.1:\(TCPListener.localPort(of: listenFD) ?? port) with \(loops) event loops, \(body.count)-byte body, mode \(mode)")
fflush(nil)

var received: Int32 = 0
sigwait(&signals, &received)
await server.drain(timeout: .seconds(2))
let stats = server.stats
print("http-bench: served \(stats.requestsServed) requests on \(stats.acceptedConnections) connections")
