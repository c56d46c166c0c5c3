import Foundation
import Testing
import TestKit

/// The settings tables in docs/ against the daemons' own tables (`DAEMON --help=markdown`, printed from
/// the same `Setting` values the daemon parses), so a doc cannot drift from the code again: every
/// setting a daemon reads is documented, and every documented default is the daemon's.
@Suite("docs/ settings tables match the daemons")
struct SettingsDocsTests {
    static let daemons = ["frontd", "limitd", "cached", "batchd", "modeld", "metricsd"]

    /// A row of a Markdown table whose first cell is a setting name in backticks: name and default cell.
    static func rows(_ markdown: String) -> [(name: String, value: String)] {
        markdown.split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, cells[0].isEmpty, cells[1].hasPrefix("`"), cells[1].hasSuffix("`") else { return nil }
            let name = String(cells[1].dropFirst().dropLast())
            guard let first = name.unicodeScalars.first, CharacterSet.uppercaseLetters.contains(first),
                  name.unicodeScalars.allSatisfy({ CharacterSet.uppercaseLetters.contains($0) || CharacterSet.decimalDigits.contains($0) || $0 == "_" })
            else { return nil }
            return (name, cells[2])
        }
    }

    /// Each daemon's settings: name → default as `--help=markdown` prints it.
    static func daemonSettings() throws -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        for daemon in daemons {
            let run = try runCapturing(builtProduct(daemon), ["--help=markdown"], separateError: true, timeout: .seconds(60))
            #expect(run.status == 0, "\(daemon) --help=markdown failed: \(run.error)")
            result[daemon] = Dictionary(rows(run.output).map { ($0.name, $0.value) }) { a, _ in a }
        }
        return result
    }

    /// Every table row of every Markdown file under docs/.
    static func documentedRows() throws -> [(file: String, name: String, value: String)] {
        let docs = URL(fileURLWithPath: packageRoot + "/docs")
        let files = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }.sorted()
        return try files.flatMap { file in
            let text = try String(contentsOf: docs.appendingPathComponent(file), encoding: .utf8)
            return rows(text).map { (file, $0.name, $0.value) }
        }
    }

    /// Whether a documented default says the same as the daemon's: the same value (backticks aside),
    /// optionally followed by words in parentheses; an unset default may be documented in words:
    /// "(unset…)", "(required)", "(systemd sets it)", "empty…".
    static func agrees(documented: String, code: String) -> Bool {
        let doc = documented.replacingOccurrences(of: "`", with: "").trimmingCharacters(in: .whitespaces)
        let value = code.replacingOccurrences(of: "`", with: "").trimmingCharacters(in: .whitespaces)
        if value == "(unset)" { return doc.hasPrefix("(") || doc.hasPrefix("empty") }
        return doc == value || doc.hasPrefix(value + " (") || doc.hasPrefix(value + ";")
    }

    @Test("every setting a daemon reads is in a table under docs/")
    func everySettingDocumented() throws {
        let documented = Set(try Self.documentedRows().map(\.name))
        for (daemon, settings) in try Self.daemonSettings() {
            for name in settings.keys.sorted() {
                if !documented.contains(name) { Issue.record("\(daemon) reads \(name), which no table in docs/ shows") }
            }
        }
    }

    @Test("a daemon with a page of its own (docs/DAEMON.md) lists there every setting it reads beyond the runtime's")
    func ownPageComplete() throws {
        let rows = try Self.documentedRows()
        // The runtime's own, and the tracing settings every daemon has (docs/RUNTIME.md).
        let runtime = Set(["LOG_LEVEL", "ENABLE_STRUCTURED_LOGGING", "INFER_RUNTIME_DIR", "DRAIN_TIMEOUT_SEC", "BIND_ADDRESS",
                           "OTEL_SDK_DISABLED", "ENABLE_TRACING", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTLP_ENDPOINT",
                           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT",
                           "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_SCHEDULE_DELAY",
                           "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"])
        for (daemon, settings) in try Self.daemonSettings() {
            let page = Set(rows.filter { $0.file == daemon + ".md" }.map(\.name))
            guard !page.isEmpty else { continue }
            for name in settings.keys.sorted() where !runtime.contains(name) && !page.contains(name) {
                Issue.record("docs/\(daemon).md has no row for \(name), which \(daemon) reads")
            }
        }
    }

    @Test("every documented default is the daemon's")
    func defaultsAgree() throws {
        let settings = try Self.daemonSettings()
        var checked = 0
        for row in try Self.documentedRows() {
            let defaults = settings.values.compactMap { $0[row.name] }
            guard !defaults.isEmpty else { continue }
            checked += 1
            #expect(defaults.contains { Self.agrees(documented: row.value, code: $0) },
                    "docs/\(row.file): \(row.name)'s default is documented as \(row.value), the daemon's is \(defaults[0])")
        }
        #expect(checked > 30)
    }

    @Test("the agreement rule itself")
    func rule() {
        #expect(Self.agrees(documented: "300", code: "`300`"))
        #expect(Self.agrees(documented: "`600` (10 min)", code: "`600`"))
        #expect(!Self.agrees(documented: "3000", code: "`300`"))
        #expect(Self.agrees(documented: "(unset: webhooks off, 503)", code: "(unset)"))
        #expect(Self.agrees(documented: "empty (CORS off)", code: "(unset)"))
        #expect(Self.agrees(documented: "(required)", code: "(unset)"))
        #expect(!Self.agrees(documented: "10", code: "(unset)"))
    }
}
