// ipc-bench: round trips per second through IPCClient → IPCServer over a Unix socket, with the server in a
// child process (as between two daemons): a small echo call, for 1 and 64 concurrent callers, with the
// server's handlers started as tasks (the default) and inline on its I/O thread; then the payload codec
// alone (CodecBench.swift): CPU nanoseconds to encode and decode each message of a request's path.
//
//   swift build -c release --product ipc-bench && .build/release/ipc-bench [seconds-per-run] [payload-bytes] [all|echo|codec]
import Foundation
import IPC

let arguments = CommandLine.arguments

/// Prints a line at once (stdout is block-buffered when piped).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Child mode: `ipc-bench serve PATH task|inline` runs an echo server until killed.
if arguments.count >= 4 && arguments[1] == "serve" {
    let path = arguments[2]
    do {
        let fd = try UnixSocket.listen(path: path)
        let server = IPCServer(
            listenFD: fd, protocolName: "infer.bench", version: 1, inlineHandlers: arguments[3] == "inline"
        ) { call in
            call.reply(call.payload)
        }
        try server.start()
    } catch {
        FileHandle.standardError.write(Data("ipc-bench serve: \(error)\n".utf8))
        exit(1)
    }
    while true { sleep(3600) }
}

let seconds = arguments.count > 1 ? Double(arguments[1]) ?? 2 : 2
let payloadSize = arguments.count > 2 ? Int(arguments[2]) ?? 64 : 64
let payload = [UInt8](repeating: 0x5A, count: payloadSize)
let parts = arguments.count > 3 ? arguments[3] : "all"

struct Result {
    var callsPerSecond: Double
    var p50: Double
    var p99: Double
}

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

func run(_ client: IPCClient, callers: Int) async throws -> Result {
    let clock = ContinuousClock()
    let start = clock.now
    let end = start.advanced(by: .milliseconds(Int(seconds * 1000)))
    let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
        for _ in 0..<callers {
            group.addTask {
                var samples: [Double] = []
                samples.reserveCapacity(100_000)
                while clock.now < end {
                    let began = clock.now
                    _ = try await client.call(type: 1, payload: payload, timeout: .seconds(5))
                    samples.append(microseconds(clock.now - began))
                }
                return samples
            }
        }
        var all: [Double] = []
        for try await samples in group { all += samples }
        return all
    }
    let elapsed = microseconds(clock.now - start) / 1e6
    let sorted = latencies.sorted()
    func percentile(_ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
    return Result(callsPerSecond: Double(latencies.count) / elapsed, p50: percentile(0.5), p99: percentile(0.99))
}

if parts != "codec" {
    say("ipc-bench: \(payloadSize)-byte echo, \(seconds) s per run, client and server in separate processes")
}
for mode in parts == "codec" ? [] : ["task", "inline"] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ipc-bench-\(getpid())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = directory + "/bench.sock"
    let child = Process()
    child.executableURL = URL(fileURLWithPath: arguments[0]).standardizedFileURL
    child.arguments = ["serve", path, mode]
    try child.run()
    defer {
        // SIGKILL: the child only sleeps, and a SIGTERM the spawner's signal mask might hold back would hang us.
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
    let client = IPCClient(path: path, protocolName: "infer.bench", version: 1)
    // The first call waits, reconnecting with backoff, until the child listens.
    _ = try await client.call(type: 1, payload: payload, timeout: .seconds(10))
    for callers in [1, 64] {
        _ = try await run(client, callers: callers)  // warm-up
        let result = try await run(client, callers: callers)
        let label = mode.padding(toLength: 6, withPad: " ", startingAt: 0)
        say(String(
            format: "handlers %@ %3d caller(s): %8.0f calls/s   p50 %7.1f µs   p99 %8.1f µs",
            label, callers, result.callsPerSecond, result.p50, result.p99))
    }
    client.close()
}
if parts != "echo" {
    try CodecBench.run(seconds: seconds, say: say)
}
