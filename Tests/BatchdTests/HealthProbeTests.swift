import Glibc
import IPC
import Metrics
import Registry
import Services
import Testing
import TestKit
@testable import batchd

/// batchd's health probes: when each deployment is probed and how the answer moves its breaker, and
/// that a modeld older than the probe breaks nothing.
@Suite("health probes", .serialized, .timeLimit(.minutes(2)))
struct HealthProbeTests {
    private let second: Int64 = 1_000_000_000

    private func deployment(threshold: Int = 1, open: Int64) -> DeploymentBackend {
        DeploymentBackend(deployment: Deployment(name: "d", model: "m", engine: .openai),
                          backend: StandInBackend { _, out in out.finish() }, capacity: 4,
                          breaker: CircuitBreaker(failureThreshold: threshold, openDuration: open), now: 0)
    }

    @Test("closed: probed once idle for the interval, not while busy; a failed probe opens it; open: probed at its end, as the half-open request")
    func plans() {
        let d = deployment(open: 10 * second)
        #expect(d.planProbe(now: 1 * second, idleInterval: 5 * second).0 == .wait(until: 5 * second))
        #expect(d.planProbe(now: 1 * second, idleInterval: nil).0 == .wait(until: .max))
        // A request in flight: busy deployments are judged by their requests.
        #expect(d.begin(now: 1 * second, estimate: 0).0 == .allowed)
        guard case .wait = d.planProbe(now: 6 * second, idleInterval: 5 * second).0 else {
            Issue.record("a busy deployment was probed")
            return
        }
        _ = d.finish(.neutral, wasProbe: false, now: 6 * second, estimate: 0, used: 0)
        #expect(d.planProbe(now: 6 * second, idleInterval: 5 * second).0 == .probe(halfOpen: false))
        let opened = d.finishProbe(.failure(reason: "health probe: down", retryAfter: nil), halfOpen: false, now: 7 * second)
        #expect(opened?.to == .open)
        #expect(d.planProbe(now: 8 * second, idleInterval: nil).0 == .wait(until: 17 * second))
        let (plan, halfOpen) = d.planProbe(now: 17 * second, idleInterval: nil)
        #expect(plan == .probe(halfOpen: true) && halfOpen?.to == .halfOpen)
        // The probe is the one half-open request: a request meanwhile is refused.
        guard case .refused = d.begin(now: 17 * second + 1, estimate: 0).0 else {
            Issue.record("a request went beside the probe")
            return
        }
        #expect(d.finishProbe(.success(firstToken: nil), halfOpen: true, now: 18 * second)?.to == .closed)
        #expect(d.breakerState == .closed)
    }

    @Test("a probe with no verdict frees the half-open slot for a request; one that fails opens the breaker for another period")
    func halfOpenOutcomes() {
        let d = deployment(open: 10 * second)
        _ = d.finishProbe(.failure(reason: "down", retryAfter: nil), halfOpen: false, now: 0)
        #expect(d.planProbe(now: 10 * second, idleInterval: nil).0 == .probe(halfOpen: true))
        #expect(d.finishProbe(.neutral, halfOpen: true, now: 10 * second) == nil)
        #expect(d.breakerState == .halfOpen)
        #expect(d.begin(now: 10 * second + 1, estimate: 0).0 == .probe)
        #expect(d.finish(.failure(reason: "502", retryAfter: nil), wasProbe: true, now: 11 * second, estimate: 0, used: 0)?.to == .open)
        // A probe's 429 Retry-After holds the breaker open for that long.
        #expect(d.planProbe(now: 21 * second, idleInterval: nil).0 == .probe(halfOpen: true))
        _ = d.finishProbe(.failure(reason: "429", retryAfter: 60 * second), halfOpen: true, now: 21 * second)
        #expect(d.planProbe(now: 40 * second, idleInterval: nil).0 == .wait(until: 81 * second))
        // An older modeld's breaker is left to requests.
        #expect(d.planProbe(now: 90 * second, idleInterval: nil, claimHalfOpen: false).0 == .wait(until: .max))
        #expect(d.breakerState == .open)
    }

    @Test("a modeld older than the probe (ERROR unknown type) gives no verdict: its breaker is left to requests, which close it")
    func olderModeld() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A real IPC server with the shell every daemon uses, knowing Generate only, as modeld did before
        // the probe; its first two generations fail as an upstream's 502 would.
        let generations = Counter()
        var shell = ServiceShell(name: "modeld", metrics: MetricsRegistry())
        shell.register(GenerationProtocol.Generate.self) { _, call in
            if generations.increment() <= 2 {
                _ = call.fail(code: ServiceErrorCode.upstreamFailed, message: "the model server failed (status 502)")
            } else {
                _ = call.end(GenerationFrameTag.payload(GenerationProtocol.Done(finishReason: "stop", promptTokens: 1, completionTokens: 0, batchSize: 1)))
            }
        }
        let modeldFD = try UnixSocket.listen(path: directory.file("modeld-old.sock"))
        let modeld = shell.server(listenFD: modeldFD, protocolName: ServiceName.modeld)
        try modeld.start()
        let backend = DeploymentBackend(
            deployment: Deployment(name: "old", model: "m", engine: .openai), backend: ModeldBackend(path: directory.file("modeld-old.sock")),
            capacity: 4, breaker: CircuitBreaker(failureThreshold: 2, openDuration: 300_000_000))
        let router = DeploymentRouter(routes: ["m": ModelRoute(name: "m", strategy: .cost, deployments: [backend], fallbacks: [])])
        let batchFD = try UnixSocket.listen(path: directory.file("batchd.sock"))
        let metrics = MetricsRegistry()
        let batchd = try BatchService(
            listenFD: batchFD, router: router, configuration: .init(maxBatch: 4, flushTimeout: .milliseconds(1), queueMax: 16),
            policy: RelayPolicy(retryMax: 0, defaultTimeout: .seconds(5), retryBackoff: .milliseconds(1)),
            probes: ProbePolicy(idleInterval: .milliseconds(50), timeout: .seconds(2)), logger: quietLogger, registry: metrics)
        let client = GenerationClient(path: directory.file("batchd.sock"), protocolName: ServiceName.batchd)
        func state() -> Double {
            metrics.value("infer_batchd_breaker_state", [MetricLabel("model", "m"), MetricLabel("deployment", "old")])
        }
        func ask() async -> Bool {
            let request = GenerationProtocol.Generate(requestID: "r", model: "m", prompt: "hi", parameters: .init(maxTokens: 1))
            return (try? await collect(client.generate(request, timeout: .seconds(5)))) != nil
        }
        // Idle probes while closed: unanswered, and they move nothing.
        #expect(await eventually { metrics.value("infer_batchd_probes_total", [
            MetricLabel("model", "m"), MetricLabel("deployment", "old"), MetricLabel("result", "unanswered")]) >= 1 })
        #expect(state() == 0)
        #expect(await !ask())
        #expect(await !ask())
        #expect(state() == 1)
        // The open period (300 ms) ends: the prober, which knows this modeld does not answer probes,
        // leaves the breaker to the next request, as before probes existed.
        try await Task.sleep(for: .milliseconds(600))
        #expect(state() == 1, "no probe verdict may move it")
        #expect(await ask())
        #expect(state() == 0)
        client.client.close()
        await batchd.shutdown()
        await modeld.drain(timeout: .zero)
        Glibc.close(batchFD)
        Glibc.close(modeldFD)
    }
}
