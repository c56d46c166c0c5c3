import Glibc
import Metrics
import Services
import Synchronization

/// What metricsd has seen of each daemon across scrapes, for the status page: up or not, its pid, when it
/// started, and how many times it restarted since metricsd started (a new start time is one restart).
final class DaemonRoster: Sendable {
    struct Entry: Sendable, Equatable {
        var up = false
        var pid: Int?
        var startTime: Double?
        var restarts = 0
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Records one scrape's answer from `daemon`: its families (nil when it did not answer).
    func record(_ daemon: String, families: [MetricFamily]?) {
        let start = families?.first { $0.name == ServiceShell.startTimeMetric }?.samples.first?.value
        let pid = families?.first { $0.name == ServiceShell.processIDMetric }?.samples.first?.value
        entries.withLock { table in
            var entry = table[daemon] ?? Entry()
            entry.up = families != nil
            if let pid { entry.pid = Int(pid) }
            if let start {
                if let known = entry.startTime, known != start { entry.restarts += 1 }
                entry.startTime = start
            }
            table[daemon] = entry
        }
    }

    /// Every daemon seen, by name.
    var snapshot: [String: Entry] { entries.withLock { $0 } }
}
