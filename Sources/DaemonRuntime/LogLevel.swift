import Settings
/// How severe a log line is; `LOG_LEVEL` sets the least severe level written.
public enum LogLevel: String, Sendable, CaseIterable, Comparable {
    /// Detail for developers: every frame, every decision.
    case debug
    /// Normal operation worth keeping: start, ready, drain, a request's outcome.
    case info
    /// Something went wrong and was handled: a retry, a dependency down, a deadline passed.
    case warn
    /// Something failed that an operator should look at.
    case error

    private var severity: Int {
        switch self {
        case .debug: 0
        case .info: 1
        case .warn: 2
        case .error: 3
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.severity < rhs.severity }
}

extension Setting where Value == LogLevel {
    /// The `LOG_LEVEL` setting: debug, info, warn (or warning) or error, in any case.
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The level when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    public static func logLevel(
        name: String = "LOG_LEVEL", default defaultValue: LogLevel = .info,
        meaning: String = "Least severe log level written to stderr."
    ) -> Setting<LogLevel> {
        Setting(
            name: name, default: defaultValue, meaning: meaning, expected: "one of debug, info, warn, error",
            describeDefault: { $0.rawValue }
        ) { text in
            let lowered = text.lowercased()
            return lowered == "warning" ? .warn : LogLevel(rawValue: lowered)
        }
    }
}
