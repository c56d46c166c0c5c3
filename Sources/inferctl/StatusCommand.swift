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
    /// - Parameter state: The stack's state.
    /// - Returns: Lines ending in newlines.
    static func render(_ state: StackState) -> String {
        let phase = state.stopping ? "stopping" : state.ready ? "ready" : "starting"
        var out = "inferctl pid \(state.pid), \(phase), since \(state.startedAt)\n"
        out += "  API:     \(state.apiURL)\n  metrics: \(state.metricsURL)\n  sockets: \(state.runtimeDirectory)\n\n"
        let header = ["DAEMON", "STATE", "PID", "RESTARTS", "STATUS"]
        let rows = state.daemons.map { daemon in
            [daemon.unit, daemon.state, daemon.pid.map(String.init) ?? "-", String(daemon.restarts),
             daemon.status ?? daemon.lastExit.map { "last: \($0)" } ?? ""]
        }
        let widths = (0..<header.count - 1).map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        for row in [header] + rows {
            var line = ""
            for (column, cell) in row.enumerated() {
                if column < widths.count {
                    line += cell + String(repeating: " ", count: widths[column] - cell.count + 2)
                } else {
                    line += cell
                }
            }
            out += line.trimmingCharacters(in: .whitespaces) + "\n"
        }
        return out
    }
}
