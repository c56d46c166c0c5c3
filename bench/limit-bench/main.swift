// limit-bench: what limitd adds to a request, measured against the real daemon in a child process: a
// Reserve and its final Commit per simulated request (what frontd sends), for 1 and 32 concurrent
// callers over one connection, on the memory backend with its journal (every change written, each
// settlement fsync'd before its reply) in a temporary state directory. Prints admissions per second and
// the latency of Reserve (added before a request runs) and of Commit (added after it, an fsync).
// The Redis backend is not built yet: when it is, the same loop runs against LIMITS_BACKEND=redis.
//
//   swift build -c release --product limitd --product limit-bench
//   .build/release/limit-bench .build/release/limitd [seconds-per-run]
import Foundation
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

let scratch = NSTemporaryDirectory() + "limit-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: scratch + "/state", withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: scratch) }
let daemon = Process()
daemon.executableURL = URL(fileURLWithPath: arguments[1])
daemon.environment = ["INFER_RUNTIME_DIR": scratch, "INFER_STATE_DIR": scratch + "/state", "LOG_LEVEL": "error",
                      "RATE_LIMIT_RPM": "1000000", "RATE_LIMIT_TPM": "2000000000"]
try daemon.run()
defer {
    daemon.terminate()
    daemon.waitUntilExit()
}
let client = LimitClient(path: scratch + "/limitd.sock")

struct Run {
    var admissionsPerSecond: Double
    var reserve: (p50: Double, p99: Double)
    var commit: (p50: Double, p99: Double)
}

func microseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12 }

func percentiles(_ values: [Double]) -> (Double, Double) {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return (0, 0) }
    return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
}

func run(callers: Int) async throws -> Run {
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
                    let id = UInt64(caller + 1) << 40 | n
                    let t0 = clock.now
                    let reply = try await client.reserve(LimitProtocol.Reserve(
                        reservation: id, key: "key:bench\(caller % 8)", model: "m", route: "/v1/chat/completions",
                        tokens: 300, costNanoUSD: 1000, budget: LimitProtocol.Budget(maxNanoUSD: 1 << 60), leaseMs: 60_000), timeout: .seconds(5))
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
    return Run(admissionsPerSecond: Double(samples.0.count) / elapsed, reserve: percentiles(samples.0), commit: percentiles(samples.1))
}

// The daemon binds its socket as it starts: wait for the first answer.
_ = try await client.usage(LimitProtocol.Usage(key: "key:warm"), timeout: .seconds(10))
say("limit-bench: limitd \(arguments[1]), memory backend with its journal, \(seconds) s per run")
say("callers  admissions/s  reserve p50 µs  reserve p99 µs  commit p50 µs  commit p99 µs")
for callers in [1, 32] {
    let r = try await run(callers: callers)
    say(String(format: "%7d  %12.0f  %14.0f  %14.0f  %13.0f  %13.0f", callers, r.admissionsPerSecond, r.reserve.p50, r.reserve.p99,
               r.commit.p50, r.commit.p99))
}
