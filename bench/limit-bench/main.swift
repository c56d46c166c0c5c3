// limit-bench: what limitd adds to a request, measured against the real daemon in a child process: a
// Reserve and its final Commit per simulated request (what frontd sends), for 1 and 32 concurrent
// callers over one connection, on both backends in one run:
//   - memory: the ledger with its journal (every change written, each settlement fsync'd before its
//     reply) in a temporary state directory;
//   - redis: LIMITS_BACKEND=redis against a redis-server of the bench's own (Debian's, loopback TCP,
//     nothing persisted): each Reserve one Lua script (and, when admitted, one pipelined index write),
//     each Commit one script.
// Prints admissions per second, the latency of Reserve (added before a request runs), of Commit (added
// after it) and of both together (what limitd adds to one request), and redis against memory.
//
//   swift build -c release --product limitd --product limit-bench
//   .build/release/limit-bench .build/release/limitd [seconds-per-run]
import Foundation
import Glibc
import IPC
import Services

func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    say("usage: limit-bench PATH-TO-LIMITD [seconds-per-run]")
    exit(64)
}
let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 2 : 2

struct Run {
    var admissionsPerSecond: Double
    var reserve: (p50: Double, p99: Double)
    var commit: (p50: Double, p99: Double)
    var request: (p50: Double, p99: Double)
}

func microseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12 }

func percentiles(_ values: [Double]) -> (Double, Double) {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return (0, 0) }
    return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
}

/// A TCP port nothing listens on now (bound to port 0, then released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Reserve + Commit in a loop from `callers` tasks for `seconds`.
func run(_ client: LimitClient, callers: Int) async throws -> Run {
    let clock = ContinuousClock()
    let end = clock.now + .milliseconds(Int(seconds * 1000))
    let started = clock.now
    let samples = try await withThrowingTaskGroup(of: ([Double], [Double]).self) { group in
        for caller in 0..<callers {
            group.addTask {
                var reserves: [Double] = [], commits: [Double] = []
                var n: UInt64 = 0
                while clock.now < end {
                    n += 1
                    let id = UInt64(caller + 1) << 40 | n | UInt64(getpid()) << 48
                    let t0 = clock.now
                    let reply = try await client.reserve(LimitProtocol.Reserve(
                        reservation: id, key: "key:bench\(caller % 8)", model: "m", route: "/v1/chat/completions",
                        tokens: 300, costNanoUSD: 1000, budget: LimitProtocol.Budget(maxNanoUSD: 1 << 50), leaseMs: 60_000), timeout: .seconds(5))
                    let t1 = clock.now
                    guard reply.outcome == .allowed else { throw CancellationError() }
                    try await client.commit(LimitProtocol.Commit(reservation: id, promptTokens: 20, completionTokens: 30, costNanoUSD: 400), timeout: .seconds(5))
                    reserves.append(microseconds(t0.duration(to: t1)))
                    commits.append(microseconds(t1.duration(to: clock.now)))
                }
                return (reserves, commits)
            }
        }
        var all = ([Double](), [Double]())
        for try await (r, c) in group {
            all.0 += r
            all.1 += c
        }
        return all
    }
    let elapsed = microseconds(started.duration(to: clock.now)) / 1e6
    return Run(admissionsPerSecond: Double(samples.0.count) / elapsed, reserve: percentiles(samples.0), commit: percentiles(samples.1),
               request: percentiles(zip(samples.0, samples.1).map { $0 + $1 }))
}

/// Starts limitd with `environment` in a scratch directory of its own, runs both caller counts, stops it.
func measure(backend: String, environment: [String: String]) async throws -> [Int: Run] {
    let scratch = NSTemporaryDirectory() + "limit-bench-\(getpid())-\(backend)"
    try FileManager.default.createDirectory(atPath: scratch + "/state", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let daemon = Process()
    daemon.executableURL = URL(fileURLWithPath: arguments[1])
    daemon.environment = ["INFER_RUNTIME_DIR": scratch, "INFER_STATE_DIR": scratch + "/state", "LOG_LEVEL": "error",
                          "RATE_LIMIT_RPM": "1000000", "RATE_LIMIT_TPM": "2000000000"].merging(environment) { $1 }
    try daemon.run()
    defer {
        daemon.terminate()
        daemon.waitUntilExit()
    }
    let client = LimitClient(path: scratch + "/limitd.sock")
    // The daemon binds its socket as it starts: wait for the first answer.
    _ = try await client.usage(LimitProtocol.Usage(key: "key:warm"), timeout: .seconds(10))
    var runs: [Int: Run] = [:]
    for callers in [1, 32] { runs[callers] = try await run(client, callers: callers) }
    return runs
}

// A redis-server of the bench's own.
let redisPort = freePort()
let redisDirectory = NSTemporaryDirectory() + "limit-bench-redis-\(getpid())"
try FileManager.default.createDirectory(atPath: redisDirectory, withIntermediateDirectories: true)
let candidates: [String] = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
guard let redisBinary = candidates.first(where: { access($0, X_OK) == 0 }) else {
    say("limit-bench: redis-server not found (apt-get install -y redis-server; scripts/install-deps.sh does)")
    exit(1)
}
let redis = Process()
redis.executableURL = URL(fileURLWithPath: redisBinary)
redis.arguments = ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", redisDirectory,
                   "--logfile", redisDirectory + "/redis.log"]
try redis.run()
defer {
    redis.terminate()
    redis.waitUntilExit()
    try? FileManager.default.removeItem(atPath: redisDirectory)
}

say("limit-bench: limitd \(arguments[1]), \(seconds) s per run; memory (journal, fsync per settlement) and redis (127.0.0.1:\(redisPort), no persistence)")
let memory = try await measure(backend: "memory", environment: [:])
let shared = try await measure(backend: "redis", environment: ["LIMITS_BACKEND": "redis", "REDIS_URL": "redis://127.0.0.1:\(redisPort)"])
say("backend  callers  admissions/s  reserve p50 µs  reserve p99 µs  commit p50 µs  commit p99 µs  request p50 µs  request p99 µs")
for (name, runs) in [("memory", memory), ("redis", shared)] {
    for callers in [1, 32] {
        guard let r = runs[callers] else { continue }
        say(name.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: "  %7d  %12.0f  %14.0f  %14.0f  %13.0f  %13.0f  %14.0f  %14.0f", callers, r.admissionsPerSecond,
                   r.reserve.p50, r.reserve.p99, r.commit.p50, r.commit.p99, r.request.p50, r.request.p99))
    }
}
for callers in [1, 32] {
    guard let m = memory[callers], let r = shared[callers] else { continue }
    say(String(format: "redis vs memory, %d caller(s): %.2f× the admissions/s, %+.0f µs per request (p50)", callers,
               r.admissionsPerSecond / m.admissionsPerSecond, r.request.p50 - m.request.p50))
}
