import Basics
import Foundation
import Synchronization
import Upstream

/// What one bench request measured.
struct BenchSample: Sendable {
    /// Why it failed (`HTTP 503`, `timeout`), nil when it succeeded.
    var error: String?
    /// Still running when the run's time was up; counted apart from failures.
    var unfinished = false
    /// From sending to the last byte, in seconds.
    var latency = 0.0
    /// From sending to the first text (streamed requests).
    var firstToken: Double?
    /// The time between successive pieces of text (streamed requests), in seconds.
    var gaps: [Double] = []
    /// Tokens generated: the server's usage, else the pieces of text counted (one per token on infer and
    /// llama.cpp's server), else 0.
    var completionTokens = 0
    var promptTokens = 0
    /// Whether the counts came from the server's usage.
    var tokensFromUsage = false
    /// No connection could be made (the server went away during the run).
    var unreachable = false
}

/// The run's shared state: hands out request numbers within both bounds and keeps every sample.
final class BenchRecorder: Sendable {
    private struct State {
        var issued = 0
        var samples: [BenchSample] = []
        var succeeded = 0
        var failed = 0
        var lastEnd: ContinuousClock.Instant?
    }

    /// When the first request went.
    let start: ContinuousClock.Instant
    private let plan: BenchPlan
    private let state = Mutex(State())

    init(plan: BenchPlan, start: ContinuousClock.Instant = .now) {
        self.plan = plan
        self.start = start
    }

    /// The number of the next request to send, or nil once the count or the time is used up.
    func next() -> Int? {
        guard ContinuousClock.now - start < plan.timeLimit else { return nil }
        return state.withLock { state in
            guard state.issued < plan.requestLimit else { return nil }
            state.issued += 1
            return state.issued - 1
        }
    }

    func record(_ sample: BenchSample) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.samples.append(sample)
            if sample.error == nil && !sample.unfinished { state.succeeded += 1 } else if !sample.unfinished { state.failed += 1 }
            state.lastEnd = now
        }
    }

    /// For the progress bar: requests sent, succeeded, failed; seconds since the start.
    var progress: (issued: Int, succeeded: Int, failed: Int, elapsed: Double) {
        let elapsed = (ContinuousClock.now - start).seconds
        return state.withLock { ($0.issued, $0.succeeded, $0.failed, elapsed) }
    }

    /// Every sample, and the seconds from the start to the last answer.
    var result: (samples: [BenchSample], seconds: Double) {
        state.withLock { state in
            (state.samples, ((state.lastEnd ?? start) - start).seconds)
        }
    }
}

/// The load generator: `concurrency` workers, each sending the next request as soon as its last one
/// ended, until the count or the time is used up. Requests still running when the time is up may
/// finish within a grace period (``drainGrace``, and at most `--timeout`); then they are cancelled and
/// counted as unfinished.
enum BenchRun {
    /// How long requests in flight at the end of the time may still take.
    static let drainGrace: Duration = .seconds(60)
    /// How long a worker waits after a request that found no server, before its next.
    static let unreachablePause: Duration = .milliseconds(100)

    /// Runs the plan.
    /// - Parameters:
    ///   - plan: What to send, and the bounds.
    ///   - api: Where.
    ///   - onProgress: Called every 200 ms with the recorder while the run lasts.
    /// - Returns: The recorder, with every sample.
    static func run(_ plan: BenchPlan, api: APIClient, onProgress: (@Sendable (BenchRecorder) -> Void)? = nil) async -> BenchRecorder {
        let recorder = BenchRecorder(plan: plan)
        let hardEnd = recorder.start + plan.timeLimit + min(drainGrace, api.timeout)
        let path = api.path("chat/completions")
        let ticker = onProgress.map { report in
            Task {
                while !Task.isCancelled {
                    report(recorder)
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<plan.concurrency {
                group.addTask {
                    while let index = recorder.next() {
                        let options = api.requestOptions(headers: plan.headers, deadline: hardEnd)
                        var sample = await one(api, path: path, body: plan.body(index), stream: plan.stream, options: options)
                        // Cut off by the end of the run rather than failed on its own.
                        if sample.error != nil && ContinuousClock.now >= hardEnd { sample.unfinished = true }
                        recorder.record(sample)
                        // A server that went away refuses at once: pause rather than spin through the count.
                        if sample.unreachable { try? await Task.sleep(for: unreachablePause) }
                    }
                }
            }
        }
        ticker?.cancel()
        if let ticker { await ticker.value }
        return recorder
    }

    /// Sends one request and measures it.
    static func one(_ api: APIClient, path: String, body: Data, stream: Bool, options: UpstreamRequestOptions) async -> BenchSample {
        var sample = BenchSample()
        let start = ContinuousClock.now
        var pieceTimes: [ContinuousClock.Instant] = []
        do throws(UpstreamError) {
            if stream {
                let events = try await api.client.stream(path: path, body: body, options: options)
                let answer = try await StreamedAnswer.read(events, kind: .chat, route: "POST \(path)") { _ in
                    pieceTimes.append(.now)
                }
                count(&sample, usage: answer.usage, pieces: answer.pieces)
            } else {
                let reply = try await api.client.call("POST", path: path, body: body, options: options)
                count(&sample, usage: reply.usage, pieces: 0)
            }
        } catch {
            sample.error = APIClient.label(error)
            sample.unreachable = error.kind == .connectRefused || error.kind == .connectFailed
        }
        sample.latency = (ContinuousClock.now - start).seconds
        if let first = pieceTimes.first { sample.firstToken = (first - start).seconds }
        sample.gaps = zip(pieceTimes, pieceTimes.dropFirst()).map { ($1 - $0).seconds }
        return sample
    }

    private static func count(_ sample: inout BenchSample, usage: UpstreamUsage?, pieces: Int) {
        if let usage {
            sample.completionTokens = usage.completionTokens
            sample.promptTokens = usage.promptTokens
            sample.tokensFromUsage = true
        } else {
            sample.completionTokens = pieces
        }
    }
}
