import Basics
import FoundationEssentials

/// What every setting of a settings table tells about itself, whatever the type of its value.
///
/// A daemon's table is an array of these (`[AnySetting]`); ``Settings/load(_:environment:)`` parses every
/// entry from the environment, and ``SettingsHelp`` renders the table for `--help` and the docs.
/// ``Setting`` is the one conforming type a daemon needs.
public protocol SettingDefinition: Sendable {
    /// The environment variable, e.g. `BATCH_MAX_SIZE`.
    var name: String { get }
    /// One sentence saying what the setting changes, for `--help` and the docs.
    var meaning: String { get }
    /// The default as an operator would write it in the environment file (empty when unset by default).
    var defaultDescription: String { get }
    /// What a valid value looks like, e.g. "an integer between 1 and 1024"; ends every error message.
    var expected: String { get }
    /// Whether the value is a secret: never echoed in errors, logs or help.
    var isSecret: Bool { get }
    /// The default value, type-erased.
    var anyDefault: any Sendable { get }
    /// Parses a raw (non-empty) value, type-erased.
    /// - Returns: the value, or nil when the text is not a valid value of this setting.
    func parseAny(_ raw: String) -> (any Sendable)?
}

/// A settings table entry of any value type: what `Daemon.run(settings:)` and ``Settings/load(_:environment:)``
/// take.
public typealias AnySetting = any SettingDefinition

/// One configuration setting, defined once: its environment variable, default, meaning and parser together.
///
/// ```swift
/// let batchMaxSize = Setting<Int>(name: "BATCH_MAX_SIZE", default: 8,
///                                 meaning: "Most requests handed to a model in one batch.", range: 1...1024)
/// let settings = try Settings.load([batchMaxSize], environment: ProcessInfo.processInfo.environment)
/// let size = settings[batchMaxSize]
/// ```
///
/// Kinds with ready-made parsers are in `Setting+Kinds.swift`: integers, numbers, booleans, durations,
/// enumerations, URLs, lists, paths, strings and secrets. Any other kind uses
/// ``init(name:default:meaning:expected:secret:describeDefault:parse:)``, or, when unset means "not
/// used", ``optional(name:meaning:expected:secret:describe:default:parse:)``.
///
/// A variable that is unset, or set to the empty string (`REDIS_URL=` in an environment file), takes the
/// default. Surrounding whitespace is ignored.
public struct Setting<Value: Sendable>: SettingDefinition {
    public let name: String
    public let meaning: String
    /// The value used when the variable is unset or empty.
    public let defaultValue: Value
    public let defaultDescription: String
    public let expected: String
    public let isSecret: Bool
    private let parser: @Sendable (String) -> Value?

    /// Defines a setting of any kind from a parser.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when the variable is unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - expected: What a valid value looks like ("a port number between 1 and 65535"); errors end with it.
    ///   - secret: Whether the value must never be echoed (errors say `<hidden>` instead).
    ///   - describeDefault: How the default is written in an environment file.
    ///   - parse: Turns the trimmed, non-empty text into a value, or returns nil when it is not valid.
    public init(
        name: String,
        default defaultValue: Value,
        meaning: String,
        expected: String,
        secret: Bool = false,
        describeDefault: (Value) -> String = { "\($0)" },
        parse: @escaping @Sendable (String) -> Value?
    ) {
        self.name = name
        self.defaultValue = defaultValue
        self.meaning = meaning
        self.expected = expected
        self.isSecret = secret
        self.defaultDescription = describeDefault(defaultValue)
        self.parser = parse
    }

    /// Parses a value as it would be read from the environment (trimmed; empty means the default).
    /// - Parameter raw: The variable's text.
    /// - Returns: The value.
    /// - Throws: ``ConfigError`` naming the variable, the bad value and what is expected.
    public func parse(_ raw: String) throws(ConfigError) -> Value {
        let trimmed = raw.trimmingWhitespace()
        if trimmed.isEmpty { return defaultValue }
        guard let value = parser(trimmed) else {
            throw ConfigError(invalid: name, value: raw, expected: expected, secret: isSecret)
        }
        return value
    }

    public var anyDefault: any Sendable { defaultValue }

    public func parseAny(_ raw: String) -> (any Sendable)? { parser(raw) }
}
