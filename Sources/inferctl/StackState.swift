import Foundation
import Glibc

/// What `inferctl up` writes to `<runtime-dir>/inferctl.json` whenever a daemon changes state, and
/// `inferctl status` reads.
struct StackState: Codable, Equatable {
    /// One daemon's line.
    struct Daemon: Codable, Equatable {
        /// `limitd`, `modeld@smollm2`.
        var unit: String
        /// `starting`, `running`, `restarting`, `waiting for a connection`, `stopping`, `failed`, `inactive`.
        var state: String
        /// The current process, if any.
        var pid: Int32?
        /// Processes started after the first.
        var restarts: Int
        /// The last STATUS= line.
        var status: String?
        /// How the last process ended (`killed by signal 9 (SIGKILL)`).
        var lastExit: String?
        /// Where its sockets listen, as `name=address`.
        var sockets: [String]
        /// When the current process started, in seconds since the epoch.
        var startedAt: Double?

        private enum CodingKeys: String, CodingKey {
            case unit, state, pid, restarts, status, sockets
            case lastExit = "last_exit"
            case startedAt = "started_at"
        }
    }

    /// inferctl's pid.
    var pid: Int32
    /// When the stack was started (ISO 8601).
    var startedAt: String
    var runtimeDirectory: String
    /// `http://127.0.0.1:8080`.
    var apiURL: String
    /// `http://127.0.0.1:9464/metrics`.
    var metricsURL: String
    /// Every daemon has sent READY=1 at least once.
    var ready: Bool
    /// The stack is stopping.
    var stopping: Bool
    var daemons: [Daemon]

    private enum CodingKeys: String, CodingKey {
        case pid, ready, stopping, daemons
        case startedAt = "started_at"
        case runtimeDirectory = "runtime_directory"
        case apiURL = "api_url"
        case metricsURL = "metrics_url"
    }

    /// The file's name inside the runtime directory.
    static let fileName = "inferctl.json"

    /// The file of a runtime directory.
    static func path(in runtimeDirectory: String) -> String {
        (runtimeDirectory.hasSuffix("/") ? runtimeDirectory : runtimeDirectory + "/") + fileName
    }

    /// Writes the file atomically (a new file renamed over the old), so a reader never sees half of it.
    /// - Parameter path: The file.
    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads a file.
    /// - Parameter path: The file.
    /// - Returns: The state, or nil when there is no readable file.
    static func read(from path: String) -> StackState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(StackState.self, from: data)
    }

    /// Whether the inferctl that wrote the state still runs.
    var isSupervisorAlive: Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
