import FoundationEssentials

/// Renders a settings table for people: `--help`, the docs, and the environment file template.
public enum SettingsHelp {
    /// How a table is written out.
    public enum Format: Sendable {
        /// Aligned columns NAME, DEFAULT, MEANING, for a terminal (`limitd --help`).
        case text
        /// A Markdown table, for docs/<daemon>.md.
        case markdown
        /// Commented assignments, for /etc/infer/infer.env: each meaning as a comment, then `#NAME=default`.
        case environmentFile
    }

    /// Renders a settings table.
    /// - Parameters:
    ///   - table: The settings, in the order to show them.
    ///   - format: How to write them.
    /// - Returns: The text, ending with a newline.
    public static func render(_ table: [AnySetting], format: Format = .text) -> String {
        switch format {
        case .text: renderText(table)
        case .markdown: renderMarkdown(table)
        case .environmentFile: renderEnvironmentFile(table)
        }
    }

    private static func renderText(_ table: [AnySetting]) -> String {
        let rows = table.map { ($0.name, shownDefault($0), "\($0.meaning) Expected: \($0.expected).") }
        let nameWidth = max(4, rows.map(\.0.count).max() ?? 0)
        let defaultWidth = max(7, rows.map(\.1.count).max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String {
            text + String(repeating: " ", count: max(0, width - text.count))
        }
        var out = pad("NAME", nameWidth) + "  " + pad("DEFAULT", defaultWidth) + "  MEANING\n"
        for (name, value, meaning) in rows {
            out += pad(name, nameWidth) + "  " + pad(value, defaultWidth) + "  " + meaning + "\n"
        }
        return out
    }

    private static func renderMarkdown(_ table: [AnySetting]) -> String {
        func cell(_ text: String) -> String {
            text.replacing("|", with: "\\|").replacing("\n", with: " ")
        }
        var out = "| variable | default | meaning | accepted values |\n|---|---|---|---|\n"
        for setting in table {
            let value = shownDefault(setting)
            out += "| `\(setting.name)` | \(value.isEmpty || value == "(unset)" ? "(unset)" : "`\(cell(value))`") "
                + "| \(cell(setting.meaning)) | \(cell(setting.expected)) |\n"
        }
        return out
    }

    private static func renderEnvironmentFile(_ table: [AnySetting]) -> String {
        var out = ""
        for setting in table {
            out += "# \(setting.meaning)\n# Expected: \(setting.expected).\n"
            out += "#\(setting.name)=\(setting.isSecret ? "" : setting.defaultDescription)\n\n"
        }
        return out
    }

    private static func shownDefault(_ setting: AnySetting) -> String {
        setting.defaultDescription.isEmpty ? "(unset)" : setting.defaultDescription
    }
}
