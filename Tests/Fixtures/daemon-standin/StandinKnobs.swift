import IPC
import Settings

/// What a test can make one stand-in do, through variables that name its instance, so one environment
/// shared by a whole stack reaches one daemon: `STANDIN_<ID>_EXIT=78` for `cached`,
/// `STANDIN_MODELD_SMOLLM2_START_MS=500` for `modeld-smollm2`.
struct StandinKnobs: Sendable {
    /// `STANDIN_<ID>_EXIT`: exit at once with this status instead of starting.
    let exit: Setting<Int>
    /// `STANDIN_<ID>_START_MS`: how long starting takes (a model load).
    let startDelay: Setting<Duration>
    /// `STANDIN_<ID>_HEALTHY`: false makes the watchdog probe fail, so pings stop.
    let healthy: Setting<Bool>

    /// The values for one start.
    struct Values {
        let exitStatus: Int32?
        let startDelay: Duration
        let healthy: Bool
    }

    init(role: StandinRole, environment: [String: String]) {
        let id = "STANDIN_" + String(role.identity.uppercased().map { $0 == "-" ? "_" : $0 })
        exit = Setting(name: id + "_EXIT", default: -1, meaning: "Exit at start with this status (-1: start normally).",
                       range: -1...255)
        startDelay = Setting(name: id + "_START_MS", default: .zero, meaning: "How long starting takes.",
                             unit: .milliseconds, range: .zero ... .seconds(120))
        healthy = Setting(name: id + "_HEALTHY", default: true, meaning: "What the watchdog probe answers.")
    }

    var settings: [AnySetting] { [exit, startDelay, healthy] }

    func read(_ settings: Settings) -> Values {
        let status = settings[exit]
        return Values(
            exitStatus: status >= 0 ? Int32(status) : nil, startDelay: settings[startDelay], healthy: settings[healthy])
    }
}
