import Basics
import FoundationEssentials

/// This limitd's name among the hosts sharing Redis: a random id kept in its state directory
/// (`limits/host-id`), so that spend replayed after an outage is counted once per host, across restarts.
enum HostIdentity {
    /// Reads the id, or makes and writes one.
    /// - Parameter directory: limitd's state directory (`STATE/limits`), which exists.
    /// - Throws: When the file can be neither read nor written.
    static func read(directory: String) throws -> String {
        let path = directory + "/host-id"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let id = text.trimmingWhitespace()
            if !id.isEmpty { return id }
        }
        let id = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return id
    }
}
