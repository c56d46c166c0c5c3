import Basics
import FoundationEssentials

/// The unit a bare number of a duration setting is read in; the variable's name says which
/// (`BATCH_FLUSH_TIMEOUT_MS`, `RATE_LIMIT_WINDOW_SEC`).
public enum DurationUnit: Sendable {
    case milliseconds
    case seconds

    var nanoseconds: Double {
        switch self {
        case .milliseconds: 1e6
        case .seconds: 1e9
        }
    }

    var word: String {
        switch self {
        case .milliseconds: "milliseconds"
        case .seconds: "seconds"
        }
    }
}

/// What a path setting must name.
public enum PathRequirement: Sendable {
    /// Any absolute path; nothing needs to exist yet.
    case absolute
    /// The absolute path of a file that exists when the daemon starts.
    case existingFile
    /// The absolute path of a directory that exists when the daemon starts.
    case existingDirectory
}

extension Setting where Value == Int {
    /// An integer setting, e.g. `BATCH_MAX_SIZE`.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - range: The values accepted; `Int.max` as the upper bound means "no upper bound".
    public init(name: String, default defaultValue: Int, meaning: String, range: ClosedRange<Int>) {
        let expected = range.upperBound == Int.max
            ? "an integer of at least \(range.lowerBound)"
            : "an integer between \(range.lowerBound) and \(range.upperBound)"
        self.init(name: name, default: defaultValue, meaning: meaning, expected: expected) { text in
            guard let value = Int(text), range.contains(value) else { return nil }
            return value
        }
    }
}

extension Setting where Value == Double {
    /// A decimal number setting, e.g. a sampling temperature or a ratio.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - range: The values accepted (finite numbers only).
    public init(name: String, default defaultValue: Double, meaning: String, range: ClosedRange<Double>) {
        let expected = "a number between \(formatNumber(range.lowerBound)) and \(formatNumber(range.upperBound))"
        self.init(
            name: name, default: defaultValue, meaning: meaning, expected: expected,
            describeDefault: formatNumber
        ) { text in
            guard let value = Double(text), value.isFinite, range.contains(value) else { return nil }
            return value
        }
    }
}

extension Setting where Value == Bool {
    /// A boolean setting, e.g. `ENABLE_METRICS`: true/false, 1/0, yes/no, on/off, in any case.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    public init(name: String, default defaultValue: Bool, meaning: String) {
        self.init(
            name: name, default: defaultValue, meaning: meaning,
            expected: "a boolean (true, false, 1, 0, yes, no)"
        ) { text in
            switch text.lowercased() {
            case "true", "1", "yes", "on": true
            case "false", "0", "no", "off": false
            default: nil
            }
        }
    }
}

extension Setting where Value == Duration {
    /// A duration setting. A bare number (decimals allowed) is read in `unit`; a suffix `ms`, `s`, `m` or
    /// `h` overrides it (`BATCH_FLUSH_TIMEOUT_MS=5`, `DRAIN_TIMEOUT_SEC=1.5`, `DRAIN_TIMEOUT_SEC=500ms`).
    /// - Parameters:
    ///   - name: The environment variable; by convention it ends in `_MS` or `_SEC`.
    ///   - defaultValue: The value when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - unit: The unit of a bare number, and of the default and bounds in help and errors.
    ///   - range: The durations accepted.
    public init(
        name: String, default defaultValue: Duration, meaning: String, unit: DurationUnit,
        range: ClosedRange<Duration>
    ) {
        let expected = "a duration in \(unit.word) between \(formatDuration(range.lowerBound, in: unit)) and "
            + "\(formatDuration(range.upperBound, in: unit)) (a number, or with a unit: 250ms, 2s, 1m)"
        self.init(
            name: name, default: defaultValue, meaning: meaning, expected: expected,
            describeDefault: { formatDuration($0, in: unit) }
        ) { text in
            guard let value = parseDuration(text, unit: unit), range.contains(value) else { return nil }
            return value
        }
    }
}

extension Setting where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// A setting whose value is one of an enumeration's raw values, matched without regard to case
    /// (`CACHE_BACKEND=memory`).
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    public init(name: String, default defaultValue: Value, meaning: String) {
        let choices = Value.allCases.map(\.rawValue)
        self.init(
            name: name, default: defaultValue, meaning: meaning,
            expected: "one of \(choices.joined(separator: ", "))",
            describeDefault: { $0.rawValue }
        ) { text in
            let lowered = text.lowercased()
            return Value.allCases.first { $0.rawValue.lowercased() == lowered }
        }
    }
}

extension Setting where Value == URL {
    /// A URL setting with a required scheme and host, e.g. an upstream engine's base URL.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - schemes: The schemes accepted, in lower case (`["http", "https"]`).
    public init(name: String, default defaultValue: URL, meaning: String, schemes: [String]) {
        self.init(
            name: name, default: defaultValue, meaning: meaning, expected: urlExpectation(schemes),
            describeDefault: { $0.absoluteString }
        ) { text in parseURL(text, schemes: schemes) }
    }
}

extension Setting {
    /// An optional setting of any kind: nil, meaning "not used", when unset or empty (`REDIS_URL`,
    /// `WEBHOOK_HMAC_PREVIOUS_UNTIL`).
    ///
    /// Use it rather than ``init(name:default:meaning:expected:secret:describeDefault:parse:)`` with an
    /// optional `Value`: there a parser returning a bare `Wrapped?` would have its nil promoted to
    /// `.some(nil)`, a valid "unset", so a bad value would pass silently.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - expected: What a valid value looks like; errors end with it.
    ///   - secret: Whether the value must never be echoed (errors and help say `<hidden>`).
    ///   - describe: How a value is written in an environment file (for the default, when it is not nil).
    ///   - defaultValue: The value when unset or empty, usually nil.
    ///   - parse: Turns the trimmed, non-empty text into a value, or returns nil when it is not valid.
    public static func optional<Wrapped>(
        name: String, meaning: String, expected: String, secret: Bool = false,
        describe: @escaping (Wrapped) -> String = { "\($0)" }, default defaultValue: Wrapped? = nil,
        parse: @escaping @Sendable (String) -> Wrapped?
    ) -> Setting<Wrapped?> where Value == Wrapped? {
        Setting<Wrapped?>(
            name: name, default: defaultValue, meaning: meaning, expected: expected, secret: secret,
            describeDefault: { value in value.map { secret ? "<hidden>" : describe($0) } ?? "" }
        ) { text in
            guard let value = parse(text) else { return Wrapped??.none }
            return Wrapped??.some(value)
        }
    }

    /// An optional absolute path, the first of a colon-separated list (systemd's `STATE_DIRECTORY` lists
    /// every path of `StateDirectory=` that way); nil when unset or empty.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - meaning: One sentence for `--help` and the docs.
    public static func firstPath(name: String, meaning: String) -> Setting<String?> where Value == String? {
        optional(name: name, meaning: meaning, expected: "an absolute path (or a colon-separated list of them)") { text in
            let first = String(text.prefix { $0 != ":" })
            return first.hasPrefix("/") ? first : nil
        }
    }
}

extension Setting where Value == URL? {
    /// An optional URL setting (`REDIS_URL`, `OTLP_ENDPOINT`): nil, meaning "not used", when unset or empty.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty, usually nil.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - schemes: The schemes accepted, in lower case (`["redis", "rediss"]`).
    ///   - expected: What a valid value looks like, for the error and the docs; unset: "a URL with scheme …
    ///     and a host".
    public init(name: String, default defaultValue: URL? = nil, meaning: String, schemes: [String], expected: String? = nil) {
        self = .optional(name: name, meaning: meaning, expected: expected ?? urlExpectation(schemes), describe: \.absoluteString,
                         default: defaultValue) { text in parseURL(text, schemes: schemes) }
    }
}

extension Setting where Value == [String] {
    /// A comma-separated list (`CORS_ORIGINS=https://a.example,https://b.example`): items are trimmed and
    /// empty items dropped.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - itemExpected: What one item looks like ("origins such as https://app.example or *").
    ///   - isValidItem: Accepts or rejects one trimmed item; every item is accepted when nil.
    public init(
        name: String, default defaultValue: [String], meaning: String, itemExpected: String = "items",
        isValidItem: (@Sendable (String) -> Bool)? = nil
    ) {
        self.init(
            name: name, default: defaultValue, meaning: meaning,
            expected: "a comma-separated list of \(itemExpected)",
            describeDefault: { $0.joined(separator: ",") }
        ) { text in
            let items = text.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingWhitespace() }
                .filter { !$0.isEmpty }
            if let isValidItem, !items.allSatisfy(isValidItem) { return nil }
            return items
        }
    }
}

extension Setting where Value == String {
    /// A free-form string setting.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - expected: What a valid value looks like, when `isValid` restricts it.
    ///   - isValid: Accepts or rejects the trimmed text; every text is accepted when nil.
    public init(
        name: String, default defaultValue: String, meaning: String, expected: String = "a string",
        isValid: (@Sendable (String) -> Bool)? = nil
    ) {
        self.init(name: name, default: defaultValue, meaning: meaning, expected: expected) { text in
            if let isValid, !isValid(text) { return nil }
            return text
        }
    }

    /// A file-system path setting (`INFER_RUNTIME_DIR`, a model registry file).
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty; it is not checked, so a default may name a file that
    ///     the daemon creates.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - path: What the path must name.
    public init(name: String, default defaultValue: String, meaning: String, path: PathRequirement) {
        let expected = switch path {
        case .absolute: "an absolute path"
        case .existingFile: "the absolute path of an existing file"
        case .existingDirectory: "the absolute path of an existing directory"
        }
        self.init(name: name, default: defaultValue, meaning: meaning, expected: expected) { text in
            guard text.hasPrefix("/") else { return nil }
            var isDirectory = false
            switch path {
            case .absolute:
                return text
            case .existingFile:
                let exists = FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory)
                return exists && !isDirectory ? text : nil
            case .existingDirectory:
                let exists = FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory)
                return exists && isDirectory ? text : nil
            }
        }
    }
}

extension Setting where Value == String? {
    /// An optional string setting, nil when unset or empty; as a secret (`WEBHOOK_HMAC_SECRET`) its value is
    /// never echoed in errors, logs or help.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty, usually nil.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - secret: Whether the value is a secret.
    ///   - minimumLength: The fewest characters accepted (say 16 for an HMAC key).
    public init(
        name: String, default defaultValue: String? = nil, meaning: String, secret: Bool = false,
        minimumLength: Int = 1
    ) {
        let noun = secret ? "a secret" : "a string"
        let expected = minimumLength > 1 ? "\(noun) of at least \(minimumLength) characters" : noun
        self = .optional(name: name, meaning: meaning, expected: expected, secret: secret, default: defaultValue) { text in
            text.count >= minimumLength ? text : nil
        }
    }
}

// MARK: - Parsers shared by the kinds

/// Writes a number without a trailing ".0" when it is whole (8, not 8.0; 0.5 stays 0.5).
func formatNumber(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}

/// Writes a duration as a number in `unit` (250 for 250 ms in milliseconds, 0.25 in seconds).
func formatDuration(_ duration: Duration, in unit: DurationUnit) -> String {
    let (seconds, attoseconds) = duration.components
    let nanoseconds = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    return formatNumber(nanoseconds / unit.nanoseconds)
}

/// Parses "250", "1.5", "250ms", "2s", "1m" or "1h"; a bare number is in `unit`.
/// - Returns: The duration, or nil for anything else (negative, not finite, absurdly long).
func parseDuration(_ text: String, unit: DurationUnit) -> Duration? {
    let lowered = text.lowercased()
    // Longest suffix first: "ms" before "s" and "m".
    let suffixes: [(String, Double)] = [("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
    var number = Substring(lowered)
    var scale = unit.nanoseconds
    for (suffix, nanoseconds) in suffixes where lowered.hasSuffix(suffix) {
        number = lowered.dropLast(suffix.count)
        scale = nanoseconds
        break
    }
    let digits = number.trimmingWhitespace()
    // Double() also reads "nan", "inf" and hexadecimal; a duration is plain decimal digits only.
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
          let value = Double(digits) else { return nil }
    let total = value * scale
    // A year is already far beyond any timeout this project has; it also keeps Int64 from overflowing.
    let oneYearInNanoseconds = 365.0 * 86_400e9
    guard total.isFinite, total >= 0, total <= oneYearInNanoseconds else { return nil }
    return .nanoseconds(Int64(total.rounded()))
}

/// "a URL with scheme http or https and a host".
func urlExpectation(_ schemes: [String]) -> String {
    let list = schemes.count <= 1
        ? schemes.joined()
        : schemes.dropLast().joined(separator: ", ") + " or " + (schemes.last ?? "")
    return "a URL with scheme \(list) and a host"
}

/// Accepts a URL whose scheme is one of `schemes` and that names a host.
func parseURL(_ text: String, schemes: [String]) -> URL? {
    guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), schemes.contains(scheme),
          let host = url.host, !host.isEmpty else { return nil }
    return url
}
