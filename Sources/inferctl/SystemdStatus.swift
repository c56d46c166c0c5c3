import Foundation

/// `inferctl status` on a host where systemd runs the stack: each `infer-*` service as `systemctl show`
/// and the journal see it (state, pid, uptime, restarts, socket, last warning or error line).
enum SystemdStatus {
    struct Unit {
        var name: String
        var active: String
        var sub: String
        var pid: Int
        var restarts: Int
        var uptime: Double?
        var socket: String
        var lastError: String
    }

    /// The units, or nil when there is no systemd to ask or it has no infer unit.
    static func read() -> [Unit]? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemctl"),
              FileManager.default.fileExists(atPath: "/run/systemd/system") else { return nil }
        let listed = run("/usr/bin/systemctl", ["list-units", "infer-*.service", "--all", "--no-legend", "--plain"])
        let names = listed.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        guard !names.isEmpty else { return nil }
        let now = uptimeSeconds()
        return names.map { name in
            let show = properties(run("/usr/bin/systemctl", ["show", name, "-p",
                "ActiveState,SubState,MainPID,NRestarts,ActiveEnterTimestampMonotonic"]))
            let socketName = name.replacingOccurrences(of: ".service", with: ".socket")
            let listen = properties(run("/usr/bin/systemctl", ["show", socketName, "-p", "Listen"]))["Listen"] ?? ""
            let error = run("/usr/bin/journalctl", ["-u", name, "-p", "warning", "-n", "1", "-o", "cat", "--no-pager"])
            let entered = Double(show["ActiveEnterTimestampMonotonic"] ?? "").map { $0 / 1e6 }
            return Unit(name: name, active: show["ActiveState"] ?? "?", sub: show["SubState"] ?? "?",
                        pid: Int(show["MainPID"] ?? "") ?? 0, restarts: Int(show["NRestarts"] ?? "") ?? 0,
                        uptime: (entered ?? 0) > 0 && show["ActiveState"] == "active" ? now.map { $0 - (entered ?? 0) } : nil,
                        socket: listen.split(separator: " ").first.map(String.init) ?? "-",
                        lastError: error.split(separator: "\n").last.map(String.init) ?? "")
        }
    }

    static func render(_ units: [Unit]) -> String {
        "systemd: \(units.count) infer units\n\n" + Table(
            ["UNIT", "STATE", "PID", "UPTIME", "RESTARTS", "SOCKET", "LAST WARNING OR ERROR"],
            units.map { [$0.name, "\($0.active) (\($0.sub))", $0.pid > 0 ? String($0.pid) : "-",
                         $0.uptime.map(StatusCommand.uptime) ?? "-", String($0.restarts), $0.socket, $0.lastError] }).text
    }

    static func json(_ units: [Unit]) -> String {
        let list = units.map { u -> [String: Any] in
            ["unit": u.name, "active": u.active, "sub": u.sub, "pid": u.pid, "restarts": u.restarts,
             "uptime_seconds": u.uptime ?? NSNull(), "socket": u.socket, "last_error": u.lastError]
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["systemd": list], options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// `Key=Value` lines.
    private static func properties(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        return out
    }

    /// Seconds since boot (the clock of systemd's monotonic timestamps).
    private static func uptimeSeconds() -> Double? {
        (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) }
    }

    private static func run(_ path: String, _ arguments: [String]) -> String {
        (try? CapturedRun.run(path, arguments, environment: ProcessInfo.processInfo.environment, includeErrors: false))?.output ?? ""
    }
}
