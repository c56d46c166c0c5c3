import TestKit

/// The stack the monitoring tests watch: the real daemons on SmolLM2 (priced, so spend moves) and MiniLM,
/// with no rate limit in the way, ready, and its HTTP and metrics ports.
struct ServingStack {
    let run: StackRun
    let http: Int
    let metrics: Int

    init() throws {
        let run = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], environmentFile: ["RATE_LIMIT_RPM=1000000"],
                               realDaemons: true, prices: ["smollm2": (0.5, 2.0)])
        self.run = run
        guard run.wait(.seconds(120), until: { run.isReady }), let http = run.port("http"), let metrics = run.port("metrics-http") else {
            _ = run.stop()
            throw HarnessError("the stack did not become ready: \(run.standardError.suffix(2000))")
        }
        self.http = http
        self.metrics = metrics
    }
}
