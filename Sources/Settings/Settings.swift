import Basics
import FoundationEssentials

/// The values of a settings table, parsed from the environment once at start.
///
/// Read a value with the setting that defines it: `settings[batchMaxSize]`.
public struct Settings: Sendable {
    private let values: [String: any Sendable]
    private let descriptions: [(name: String, value: String)]

    private init(values: [String: any Sendable], descriptions: [(name: String, value: String)]) {
        self.values = values
        self.descriptions = descriptions
    }

    /// Parses every setting of a table from an environment.
    ///
    /// Every variable is checked before anything is reported, so one error lists every bad variable.
    /// - Parameters:
    ///   - table: The settings, each defined once.
    ///   - environment: The variables, usually `ProcessInfo.processInfo.environment`.
    /// - Returns: The values, the default for each variable that is unset or empty.
    /// - Throws: ``ConfigError`` naming each bad variable, its value and what is expected; also when the
    ///   table defines a variable twice.
    public static func load(_ table: [AnySetting], environment: [String: String]) throws(ConfigError) -> Settings {
        var values: [String: any Sendable] = [:]
        var descriptions: [(name: String, value: String)] = []
        var errors: [ConfigError] = []
        for setting in table {
            guard values[setting.name] == nil else {
                errors.append(.duplicate(setting.name))
                continue
            }
            let raw = (environment[setting.name] ?? "").trimmingWhitespace()
            if raw.isEmpty {
                values[setting.name] = setting.anyDefault
                descriptions.append((setting.name, setting.defaultDescription))
            } else if let value = setting.parseAny(raw) {
                values[setting.name] = value
                descriptions.append((setting.name, setting.isSecret ? "<hidden>" : raw))
            } else {
                values[setting.name] = setting.anyDefault
                errors.append(ConfigError(
                    invalid: setting.name, value: environment[setting.name] ?? "",
                    expected: setting.expected, secret: setting.isSecret))
            }
        }
        if !errors.isEmpty { throw .combining(errors) }
        return Settings(values: values, descriptions: descriptions)
    }

    /// The value of a setting.
    ///
    /// A setting that was not in the table given to ``load(_:environment:)`` has its default: the table is
    /// the contract of what a daemon reads, so list every setting there.
    public subscript<Value>(setting: Setting<Value>) -> Value {
        values[setting.name] as? Value ?? setting.defaultValue
    }

    /// Every setting with its effective value as text, secrets shown as `<hidden>`, in table order: what a
    /// daemon logs once at start so an operator can see the configuration it runs with.
    public var effective: [(name: String, value: String)] { descriptions }
}
