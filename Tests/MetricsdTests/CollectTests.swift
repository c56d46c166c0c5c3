import Foundation
import Glibc
import IPC
import Testing

@testable import metricsd
import Metrics
import Services

/// metricsd's `Collect` over a real socket, as frontd sends it for `/metrics` and `/v1/metrics/*`.
@Suite struct CollectTests {
    @Test("Collect answers the rendered text and/or the families of one gathering, counted by source")
    func collect() async throws {
        var template = Array("/tmp/mcol-XXXXXX".utf8CString)
        let dir = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let registry = MetricsRegistry()
        // No daemon runs in `dir`: every target is down, metricsd itself is up.
        let collector = MetricsCollector(targets: ScrapeTargets(runtimeDirectory: dir, models: []), registry: registry,
                                         timeout: .milliseconds(50))
        let path = dir + "/metricsd.sock"
        let server = collector.shell(enabled: true).server(listenFD: try UnixSocket.listen(path: path), protocolName: ServiceName.metricsd)
        try server.start()
        let client = MetricsClient(path: path)
        defer { client.client.close() }

        let both = try await client.collect(MetricsProtocol.Collect(text: true, families: true), timeout: .seconds(5))
        let up = both.families.first { $0.name == "infer_daemon_up" }
        #expect(up?.samples.count == 5 && up?.samples.filter { $0.value == 1 }.count == 1)
        #expect(both.text == PrometheusText.render(both.families))
        #expect(both.text?.contains("infer_daemon_up{daemon=\"limitd\"} 0") == true)

        let textOnly = try await client.collect(MetricsProtocol.Collect(text: true, families: false), timeout: .seconds(5))
        #expect(textOnly.families.isEmpty && textOnly.text != nil)
        #expect(registry.value("infer_metricsd_scrapes_total", [MetricLabel("source", "ipc")]) == 2)
        await server.drain(timeout: .seconds(1))
    }

    @Test("with ENABLE_METRICS=false the text is withheld, the families are not")
    func disabled() async throws {
        var template = Array("/tmp/mcol-XXXXXX".utf8CString)
        let dir = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let collector = MetricsCollector(targets: ScrapeTargets(runtimeDirectory: dir, models: []), registry: MetricsRegistry(),
                                         timeout: .milliseconds(50))
        let path = dir + "/metricsd.sock"
        let server = collector.shell(enabled: false).server(listenFD: try UnixSocket.listen(path: path), protocolName: ServiceName.metricsd)
        try server.start()
        let client = MetricsClient(path: path)
        defer { client.client.close() }
        let reply = try await client.collect(MetricsProtocol.Collect(text: true, families: true), timeout: .seconds(5))
        #expect(reply.text == nil && !reply.families.isEmpty)
        await server.drain(timeout: .seconds(1))
    }
}
