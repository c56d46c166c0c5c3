import Glibc
import IPC
import Metrics
import Services

/// The daemons metricsd asks on each scrape: name (the `daemon` label) and stats client.
struct ScrapeTargets: Sendable {
    struct Target: Sendable {
        let daemon: String
        let client: StatsClient
    }
    let targets: [Target]
    /// What the scrapes saw of each daemon (the status page's table).
    let roster = DaemonRoster()

    /// One target per daemon socket under the runtime directory: limitd, cached, batchd, frontd's
    /// stats socket and one modeld per registry model.
    init(runtimeDirectory: String, models: [String]) {
        func target(_ daemon: String, _ file: String, _ proto: String) -> Target {
            Target(daemon: daemon, client: StatsClient(path: runtimeDirectory + "/" + file + ".sock", protocolName: proto))
        }
        var t = [
            target("frontd", "frontd", ServiceName.frontd),
            target("limitd", "limitd", ServiceName.limitd),
            target("cached", "cached", ServiceName.cached),
            target("batchd", "batchd", ServiceName.batchd),
        ]
        for m in models { t.append(target("modeld-\(m)", "modeld-\(m)", ServiceName.modeld)) }
        targets = t
    }

    /// When metricsd started (its own `infer_daemon_start_time_seconds`).
    static let processStart: Double = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }()

    /// Asks every target at once; returns the merged families plus `infer_daemon_up` and
    /// `infer_daemon_start_time_seconds`.
    func scrape(timeout: Duration) async -> [MetricFamily] {
        let results = await withTaskGroup(of: (String, [MetricFamily]?).self) { group in
            for t in targets {
                group.addTask { (t.daemon, try? await t.client.snapshot(timeout: timeout)) }
            }
            var out: [(String, [MetricFamily]?)] = []
            for await r in group { out.append(r) }
            return out.sorted { $0.0 < $1.0 }
        }
        var families: [MetricFamily] = []
        var up = MetricFamily(name: "infer_daemon_up", help: "1 when the daemon answered this scrape's stats request, else 0.",
                              kind: .gauge, samples: [])
        var started = MetricFamily(name: "infer_daemon_start_time_seconds",
                                   help: "When each daemon that answered this scrape started, in seconds since the epoch (a restart changes it).",
                                   kind: .gauge, samples: [])
        for (daemon, fams) in results {
            up.samples.append(MetricSample(labels: [MetricLabel("daemon", daemon)], value: fams == nil ? 0 : 1))
            roster.record(daemon, families: fams)
            // Every daemon sends its own start time under one name: here it becomes one series per daemon.
            // Its pid is for the status page only (a label that changes on each restart makes new series).
            for family in fams ?? [] {
                if family.name == ServiceShell.startTimeMetric {
                    started.samples += family.samples.map { MetricSample(labels: [MetricLabel("daemon", daemon)], value: $0.value) }
                } else if family.name != ServiceShell.processIDMetric {
                    families.append(family)
                }
            }
        }
        roster.record("metricsd", families: [
            MetricFamily(name: ServiceShell.startTimeMetric, help: "", kind: .gauge, samples: [MetricSample(labels: [], value: Self.processStart)]),
            MetricFamily(name: ServiceShell.processIDMetric, help: "", kind: .gauge, samples: [MetricSample(labels: [], value: Double(getpid()))]),
        ])
        up.samples.append(MetricSample(labels: [MetricLabel("daemon", "metricsd")], value: 1))
        started.samples.append(MetricSample(labels: [MetricLabel("daemon", "metricsd")], value: Self.processStart))
        return [up, started] + families
    }
}
