import APIKeys
import Basics
import Foundation
import IPC
import Services

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
            case .create(let name, let scopes, let settings):
                let created = try create(name: name, scopes: scopes, settings: settings, file: file)
                // The key alone on stdout (KEY=$(inferctl keys create ...) works); the note on stderr.
                print(created.key)
                note("created key \"\(name)\" (id \(created.entry.id), scopes \(APIKeyScope.list(scopes)), "
                    + "\(limitsText(created.entry))) in \(file).\nThis is the only time the key is shown: store it now. "
                    + "Send it as: Authorization: Bearer <key>")
            case .update(let target, let settings):
                let updated = try update(target, settings: settings, file: file)
                note("updated key \"\(updated.name)\" (id \(updated.id)): \(limitsText(updated)); frontd applies it within a second")
            case .list(let json, let runtimeDirectory):
                let keys = try list(file: file)
                let directory = runtimeDirectory ?? environment["INFER_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/run/infer"
                let spend = keys.isEmpty ? [:] : KeySpendReport.fetch(runtimeDirectory: directory)
                if spend == nil { note("limitd is not answering on \(directory)/limitd.sock: spend is not shown") }
                let now = Int64(Date().timeIntervalSince1970)
                print(json ? renderJSON(keys, spend: spend, now: now) : renderTable(keys, spend: spend, now: now), terminator: "")
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
        name: String, scopes: Set<APIKeyScope>, settings: KeySettings = KeySettings(), file: String
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
                let now = Int64(Date().timeIntervalSince1970)
                var entry = APIKeyEntry(name: name, id: id, digest: APIKeySecret.digest(key.utf8), scopes: scopes, created: now)
                settings.apply(to: &entry, now: now)
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

    /// Changes the limits, budget, models, expiry or scopes of the key with this name (or else this id).
    /// - Returns: The updated entry.
    static func update(_ target: String, settings: KeySettings, file: String) throws(InferctlError) -> APIKeyEntry {
        try changeKey(target, file: file) { keys, index in
            settings.apply(to: &keys.keys[index], now: Int64(Date().timeIntervalSince1970))
            return keys.keys[index]
        }
    }

    /// Removes the key with this name (or else this id) from the file.
    /// - Returns: The removed entry.
    static func revoke(_ target: String, file: String) throws(InferctlError) -> APIKeyEntry {
        try changeKey(target, file: file) { keys, index in keys.keys.remove(at: index) }
    }

    /// Finds the key with this name (or else this id) in the file, locked, and lets `change` change the
    /// file with the key's index; refused when no key is named so.
    /// - Returns: What `change` returns.
    private static func changeKey(
        _ target: String, file: String, _ change: (inout APIKeyFile, Int) -> APIKeyEntry
    ) throws(InferctlError) -> APIKeyEntry {
        do {
            return try APIKeyFile.modify(path: file) { (keys: inout APIKeyFile) throws(APIKeyFileError) -> APIKeyEntry in
                guard let index = keys.index(ofNameOrID: target) else {
                    throw APIKeyFileError(.refused, file: file, "no key is named \"\(target)\" or has that id "
                        + "(inferctl keys list --file \(file) shows them)")
                }
                return change(&keys, index)
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

    /// A key's limits in a few words: `60 requests per minute, tpm 10000, budget $5/30d, models a,b`.
    static func limitsText(_ key: APIKeyEntry) -> String {
        var parts = [rateText(key.requestsPerMinute)]
        let short = limitsCell(key)
        if short != "-" { parts.append(short) }
        if let budget = key.maxBudget { parts.append("budget " + budgetCell(budget, key.budgetDuration)) }
        if !key.models.isEmpty { parts.append("models " + key.models.joined(separator: ",")) }
        if let expires = key.expires { parts.append("expires " + formatTime(expires)) }
        return parts.joined(separator: ", ")
    }

    /// `rph 100 tpm 10000 par 4`, or `-` when the key has none of its own beyond requests per minute.
    static func limitsCell(_ key: APIKeyEntry) -> String {
        let items = [("rph", key.requestsPerHour), ("tpm", key.tokensPerMinute), ("par", key.maxParallel)].filter { $0.1 > 0 }
        return items.isEmpty ? "-" : items.map { "\($0.0) \($0.1)" }.joined(separator: " ")
    }

    /// `$5/30d`, `$5` (never resets).
    static func budgetCell(_ usd: Double, _ period: BudgetPeriod?) -> String {
        "$" + NanoUSD.text(usd) + (period.map { "/" + $0.description } ?? "")
    }

    /// The keys as a table: NAME, ID, SCOPES, RPM, LIMITS, BUDGET, SPEND (this period, from limitd), RESETS,
    /// EXPIRES, CREATED (UTC).
    /// - Parameter spend: limitd's spend by key id; nil when limitd did not answer (SPEND `?`).
    static func renderTable(_ keys: [APIKeyEntry], spend: [String: LimitSpend]? = [:], now: Int64 = 0) -> String {
        let rows = [["NAME", "ID", "SCOPES", "RPM", "LIMITS", "BUDGET", "SPEND", "RESETS", "EXPIRES", "CREATED"]] + keys.map { key in
            let period = KeySpendReport.period(key, now: now)
            let spent = spend.map { KeySpendReport.spent($0[key.id], period: period) }
            let scopes: String = key.scopes.isEmpty ? "-" : APIKeyScope.list(key.scopes)
            let rpm: String = key.requestsPerMinute == 0 ? "default" : String(key.requestsPerMinute)
            let budget: String = key.maxBudget.map { budgetCell($0, key.budgetDuration) } ?? "-"
            let spentText: String = spent.map { "$" + NanoUSD.text($0) } ?? "?"
            let resets: String = period.end > 0 ? formatTime(period.end) : "-"
            let expires: String = key.expires.map(formatTime) ?? "-"
            let created: String = key.created.map(formatTime) ?? "-"
            return [key.name, key.id, scopes, rpm, limitsCell(key), budget, spentText, resets, expires, created]
        }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }

    /// The keys as JSON, without their hashes: `{"keys": [{"name", "id", "scopes", "requests_per_minute",
    /// "requests_per_hour", "tokens_per_minute", "max_parallel", "max_budget", "budget_duration", "models",
    /// "model_limits", "expires", "created", "spend_usd", "reserved_usd", "total_spend_usd", "budget_resets_at"}]}`
    /// (the spend fields null when limitd did not answer).
    static func renderJSON(_ keys: [APIKeyEntry], spend: [String: LimitSpend]? = [:], now: Int64 = 0) -> String {
        func optional<T>(_ value: T?) -> Any { value.map { $0 as Any } ?? NSNull() }
        let list: [[String: Any]] = keys.map { key in
            let period = KeySpendReport.period(key, now: now)
            let record = spend?[key.id]
            return ["name": key.name, "id": key.id, "scopes": key.scopes.sorted().map(\.rawValue),
                    "requests_per_minute": Int(key.requestsPerMinute), "requests_per_hour": Int(key.requestsPerHour),
                    "tokens_per_minute": Int(key.tokensPerMinute), "max_parallel": Int(key.maxParallel),
                    "max_budget": optional(key.maxBudget), "budget_duration": optional(key.budgetDuration?.description),
                    "models": key.models, "expires": optional(key.expires.map { Int($0) }), "created": optional(key.created.map { Int($0) }),
                    "model_limits": key.modelLimits.mapValues { l in
                        ["requests_per_minute": Int(l.requestsPerMinute), "requests_per_hour": Int(l.requestsPerHour),
                         "tokens_per_minute": Int(l.tokensPerMinute), "max_parallel": Int(l.maxParallel)]
                    },
                    "spend_usd": optional(spend.map { KeySpendReport.spent($0[key.id], period: period) }),
                    "reserved_usd": optional(spend.map { _ in record?.reserved ?? 0 }),
                    "total_spend_usd": optional(spend.map { _ in record?.total ?? 0 }),
                    "budget_resets_at": optional(period.end > 0 ? Int(period.end) : nil)]
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["keys": list], options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func formatTime(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
