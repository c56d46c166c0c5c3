import Testing

import Metrics

/// What a daemon's registry holds before anything happened.
@Suite struct MetricsRegistryTests {
    @Test("series named at registration exist at 0 from the start; others appear when first touched")
    func seriesFromTheStart() {
        let registry = MetricsRegistry()
        let yes = [MetricLabel("result", "yes")], no = [MetricLabel("result", "no")]
        let counter = registry.counter("infer_t_total", help: "t", series: [yes, no])
        _ = registry.gauge("infer_t_gauge", help: "g", series: [[]])
        _ = registry.gauge("infer_t_untouched", help: "u")
        let families = registry.snapshot()
        #expect(families.map(\.name) == ["infer_t_total", "infer_t_gauge", "infer_t_untouched"])
        #expect(families[0].samples.map(\.labels) == [no, yes] && families[0].samples.allSatisfy { $0.value == 0 })
        #expect(families[1].samples.map(\.labels) == [[]] && families[1].samples.first?.value == 0)
        #expect(families[2].samples.isEmpty)
        counter.increment(yes, by: 2)
        #expect(registry.value("infer_t_total", yes) == 2 && registry.value("infer_t_total", no) == 0)
    }
}
