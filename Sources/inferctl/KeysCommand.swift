import APIKeys
import Foundation
import IPC

/// `inferctl keys create|list|revoke`: manages the API keys file frontd reads (re-read within a second
/// of a change, so a new key works and a revoked one stops working without a restart).
enum KeysCommand {
    /// The keys file when neither `--file` nor `API_KEYS_FILE` names one (frontd's default too).
    static let defaultFile = "/etc/infer/keys.json"

    /// Runs one keys subcommand.
    /// - Parameters:
    ///   - options: The command line.
    ///   - environment: inferctl's environment (`API_KEYS_FILE`).
    ///   - currentDirectory: What a relative `--file` is taken from.
    /// - Returns: The exit status.
    static func run(_ options: KeysOptions, environment: [String: String], currentDirectory: String) -> Int32 {
        let file = resolveFile(options.file, environment: environment, currentDirectory: currentDirectory)
        do throws(InferctlError) {
            switch options.action {
            case .create(let name, let scopes, let rpm):
                let created = try create(name: name, scopes: scopes, requestsPerMinute: rpm, file: file)
                // The key alone on stdout (KEY=$(inferctl keys create ...) works); the note on stderr.
                print(created.key)
                note("created key \"\(name)\" (id \(created.entry.id), scopes \(APIKeyScope.list(scopes)), "
                    + "\(rateText(rpm))) in \(file).\nThis is the only time the key is shown: store it now. "
                    + "Send it as: Authorization: Bearer <key>")
            case .list(let json):
                let keys = try list(file: file)
                print(json ? renderJSON(keys) : renderTable(keys), terminator: "")
            case .revoke(let target):
                let removed = try revoke(target, file: file)
                note("revoked key \"\(removed.name)\" (id \(removed.id)) in \(file); frontd refuses it within a second")
            }
            return InferctlExit.success
        } catch {
            FileHandle.standardError.write(Data("inferctl: \(error.description)\n".utf8))
            return error.exitStatus
        }
    }

    /// `--file`, else `API_KEYS_FILE`, else /etc/infer/keys.json; relative paths made absolute.
    static func resolveFile(_ flag: String?, environment: [String: String], currentDirectory: String) -> String {
        let path = flag ?? environment["API_KEYS_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultFile
        if path.hasPrefix("/") { return path }
        return (currentDirectory.hasSuffix("/") ? currentDirectory : currentDirectory + "/") + path
    }

    /// Adds a new key to the file.
    /// - Returns: The key (to show once) and its entry.
    /// - Throws: ``InferctlError``: a name already used (1), a bad file (78), a file that cannot be written (71).
    static func create(
        name: String, scopes: Set<APIKeyScope>, requestsPerMinute: UInt32, file: String
    ) throws(InferctlError) -> (key: String, entry: APIKeyEntry) {
        let key = APIKeySecret.generate()
        do {
            return try APIKeyFile.modify(path: file) { (keys: inout APIKeyFile) throws(APIKeyFileError) -> (key: String, entry: APIKeyEntry) in
                if keys.keys.contains(where: { $0.name == name }) {
                    throw APIKeyFileError(.refused, file: file, "a key named \"\(name)\" already exists; "
                        + "revoke it first (inferctl keys revoke \(name)) or choose another name")
                }
                var id = APIKeySecret.newID()
                while keys.keys.contains(where: { $0.id == id }) { id = APIKeySecret.newID() }
                let entry = APIKeyEntry(
                    name: name, id: id, digest: APIKeySecret.digest(key.utf8), scopes: scopes,
                    requestsPerMinute: requestsPerMinute, created: Int64(Date().timeIntervalSince1970))
                keys.keys.append(entry)
                return (key, entry)
            }
        } catch {
            throw inferctlError(error)
        }
    }

    /// For `inferctl up --first-key` (`make run`): when the file has no key (or does not exist), a key
    /// named `dev` with every scope, to show once in the ready banner.
    /// - Returns: The key and its entry, or nil when the file already has keys.
    static func createFirstKey(file: String) throws(InferctlError) -> (key: String, entry: APIKeyEntry)? {
        do {
            if try !APIKeyFile.load(path: file).keys.isEmpty { return nil }
        } catch where error.kind == .missing {
            // Made below.
        } catch {
            throw inferctlError(error)
        }
        let key = APIKeySecret.generate()
        do {
            return try APIKeyFile.modify(path: file) { (keys: inout APIKeyFile) throws(APIKeyFileError) -> (key: String, entry: APIKeyEntry)? in
                guard keys.keys.isEmpty else { return nil }
                let entry = APIKeyEntry(
                    name: "dev", id: APIKeySecret.newID(), digest: APIKeySecret.digest(key.utf8),
                    scopes: Set(APIKeyScope.allCases), created: Int64(Date().timeIntervalSince1970))
                keys.keys.append(entry)
                return (key, entry)
            }
        } catch {
            throw inferctlError(error)
        }
    }

    /// The keys in the file; none (with a note) when it does not exist yet.
    static func list(file: String) throws(InferctlError) -> [APIKeyEntry] {
        do {
            return try APIKeyFile.load(path: file).keys
        } catch where error.kind == .missing {
            note("no API keys: \(file) does not exist (inferctl keys create NAME --scopes ... makes it)")
            return []
        } catch {
            throw inferctlError(error)
        }
    }

    /// Removes the key with this name (or else this id) from the file.
    /// - Returns: The removed entry.
    static func revoke(_ target: String, file: String) throws(InferctlError) -> APIKeyEntry {
        do {
            return try APIKeyFile.modify(path: file) { (keys: inout APIKeyFile) throws(APIKeyFileError) -> APIKeyEntry in
                guard let index = keys.index(ofNameOrID: target) else {
                    throw APIKeyFileError(.refused, file: file, "no key is named \"\(target)\" or has that id "
                        + "(inferctl keys list --file \(file) shows them)")
                }
                return keys.keys.remove(at: index)
            }
        } catch {
            throw inferctlError(error)
        }
    }

    /// A file error as inferctl reports it: a refused change (duplicate name, unknown key) exits 1, a bad
    /// file 78, a file that cannot be read or written 71.
    private static func inferctlError(_ error: APIKeyFileError) -> InferctlError {
        switch error.kind {
        case .refused: return InferctlError(.failure, error.description)
        case .invalid: return .configuration(error.description)
        case .missing, .unreadable, .unwritable: return .system(error.description)
        }
    }

    private static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func rateText(_ rpm: UInt32) -> String {
        rpm == 0 ? "limitd's default rate" : "\(rpm) requests per minute"
    }

    /// The keys as a table: NAME, ID, SCOPES, RPM, CREATED (UTC).
    static func renderTable(_ keys: [APIKeyEntry]) -> String {
        let rows = [["NAME", "ID", "SCOPES", "RPM", "CREATED"]] + keys.map { key in
            [key.name, key.id, key.scopes.isEmpty ? "-" : APIKeyScope.list(key.scopes),
             key.requestsPerMinute == 0 ? "default" : String(key.requestsPerMinute),
             key.created.map(formatTime) ?? "-"]
        }
        var widths = [Int](repeating: 0, count: 5)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }

    /// The keys as JSON, without their hashes: `{"keys": [{"name", "id", "scopes", "requests_per_minute", "created"}]}`.
    static func renderJSON(_ keys: [APIKeyEntry]) -> String {
        let list: [[String: Any]] = keys.map { key in
            ["name": key.name, "id": key.id, "scopes": key.scopes.sorted().map(\.rawValue),
             "requests_per_minute": Int(key.requestsPerMinute), "created": key.created.map { Int($0) as Any } ?? NSNull()]
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["keys": list], options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func formatTime(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
