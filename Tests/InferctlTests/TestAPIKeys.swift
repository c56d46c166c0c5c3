import Foundation
import IPC

/// API keys for a test stack, one per name, written as a keys file in the format `inferctl keys`
/// writes (only SHA-256 hashes; every key holds every scope). Pass `environmentLine` in the stack's
/// environment file: a frontd that enforces keys reads it; the placeholder authenticator of builds
/// without keys ignores it and accepts any bearer token, so the same test runs on both.
struct TestAPIKeys {
    /// Key by name.
    let keys: [String: String]
    /// The keys file.
    let path: String

    /// Makes a random key per name and writes the keys file into `directory`.
    /// - Parameters:
    ///   - names: The keys' names (1 to 64 of `a-z 0-9 _ -`).
    ///   - requestsPerMinute: A key's own rate limit; 0 (the default) is limitd's RATE_LIMIT_RPM.
    init(_ names: [String], in directory: String, requestsPerMinute: [String: Int] = [:]) throws {
        var rng = SystemRandomNumberGenerator()
        var keys: [String: String] = [:]
        var entries: [[String: Any]] = []
        for name in names {
            let key = "sk-infer-test-\(name)-" + String(rng.next() as UInt64, radix: 36) + String(rng.next() as UInt64, radix: 36)
            keys[name] = key
            entries.append(["name": name, "id": "key_\(name)", "sha256": SHA256.hex(Array(key.utf8)),
                            "scopes": ["admin", "embed", "infer"], "requests_per_minute": requestsPerMinute[name] ?? 0])
        }
        self.keys = keys
        path = directory + "/keys.json"
        let data = try JSONSerialization.data(withJSONObject: ["keys": entries], options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// The environment-file line that points frontd at the keys file.
    var environmentLine: String { "API_KEYS_FILE=" + path }

    /// The keys by name as a JSON object, for the Python scripts.
    var json: String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: keys, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }
}
