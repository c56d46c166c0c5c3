import Foundation

/// `inferctl status`: what a running `inferctl up` supervises, from its state file.
enum StatusCommand {
    /// Prints the stack's state.
    /// - Parameters:
    ///   - options: The command line.
    ///   - environment: inferctl's environment (`INFER_RUNTIME_DIR`).
    /// - Returns: 0 when a stack runs, 3 when none does.
    static func run(_ options: StatusOptions, environment: [String: String]) -> Int32 {
        let directory = options.runtimeDirectory
            ?? environment["INFER_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/run/infer"
        let path = StackState.path(in: directory)
        guard let state = StackState.read(from: path) else {
            // No `inferctl up` here: the stack may run under systemd.
            if let units = SystemdStatus.read() {
                print(options.json ? SystemdStatus.json(units) : SystemdStatus.render(units), terminator: "")
                return units.contains { $0.active == "active" } ? InferctlExit.success : InferctlExit.notRunning
            }
            if FileManager.default.fileExists(atPath: path) {
                print("cannot read \(path): not a state file of this inferctl")
            } else {
                print("no stack runs in \(directory) (no \(path)); start one with: inferctl up")
            }
            return InferctlExit.notRunning
        }
        guard state.isSupervisorAlive else {
            print("no stack runs in \(directory): inferctl (pid \(state.pid)) is gone; \(path) is stale")
            return InferctlExit.notRunning
        }
        if options.json {
            if let data = FileManager.default.contents(atPath: path) {
                FileHandle.standardOutput.write(data)
                print()
            }
            return InferctlExit.success
        }
        print(render(state), terminator: "")
        return InferctlExit.success
    }

    /// The human-readable table.
    /// - Parameters:
    ///   - state: The stack's state.
    ///   - now: The wall clock, in seconds since the epoch (uptimes are counted to it).
    /// - Returns: Lines ending in newlines.
    static func render(_ state: StackState, now: Double = Date().timeIntervalSince1970) -> String {
        let phase = state.stopping ? "stopping" : state.ready ? "ready" : "starting"
        var out = "inferctl pid \(state.pid), \(phase), since \(state.startedAt)\n"
        out += "  API:     \(state.apiURL)\n  metrics: \(state.metricsURL)\n  sockets: \(state.runtimeDirectory)\n\n"
        let rows = state.daemons.map { daemon -> [String] in
            let pid: String = daemon.pid.map { String($0) } ?? "-"
            let up: String = daemon.startedAt.map { uptime(now - $0) } ?? "-"
            // `name=address`: the address.
            let socket: String = daemon.sockets.first.map { String($0.split(separator: "=", maxSplits: 1).last ?? Substring($0)) } ?? "-"
            let note: String = daemon.status ?? daemon.lastExit.map { "last: \($0)" } ?? ""
            return [daemon.unit, daemon.state, pid, up, String(daemon.restarts), socket, note]
        }
        return out + Table(["DAEMON", "STATE", "PID", "UPTIME", "RESTARTS", "SOCKET", "STATUS / LAST EXIT"], rows).text
    }

    /// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
    static func uptime(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60)
        return d > 0 ? "\(d)d \(h)h" : h > 0 ? "\(h)h \(m)m" : m > 0 ? "\(m)m \(s % 60)s" : "\(s)s"
    }
}
