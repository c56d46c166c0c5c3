/// A configuration the daemon cannot start with: which variable, what it held, what was expected.
///
/// Its description is the line an operator sees, e.g.
/// `RATE_LIMIT_RPM=abc: expected an integer between 1 and 1000000`; when several variables are wrong it
/// has one such line for each. A daemon that meets one exits with ``ExitCode/config`` (78, EX_CONFIG),
/// which the units list in `RestartPreventExitStatus=` so systemd does not restart-loop on it.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    private enum Problem: Sendable {
        case invalid(variable: String, value: String, expected: String, secret: Bool)
        case duplicate(variable: String)
        case other(variable: String?, message: String)
    }

    private let problems: [Problem]

    private init(problems: [Problem]) {
        self.problems = problems
    }

    /// A variable whose value is not valid.
    /// - Parameters:
    ///   - variable: The environment variable.
    ///   - value: Its raw text (shown quoted when it holds spaces or control characters).
    ///   - expected: What a valid value looks like.
    ///   - secret: When true the value is shown as `<hidden>`.
    public init(invalid variable: String, value: String, expected: String, secret: Bool = false) {
        self.init(problems: [.invalid(variable: variable, value: value, expected: expected, secret: secret)])
    }

    /// A configuration problem that is not one variable's syntax, e.g. a model registry entry that names a
    /// missing file.
    /// - Parameters:
    ///   - message: What is wrong, naming the variable or file it concerns.
    ///   - variable: The environment variable concerned, when there is one.
    public init(_ message: String, variable: String? = nil) {
        self.init(problems: [.other(variable: variable, message: message)])
    }

    /// A settings table that defines the same variable twice (a programming error, reported the same way).
    static func duplicate(_ variable: String) -> ConfigError {
        ConfigError(problems: [.duplicate(variable: variable)])
    }

    /// Several problems reported together, so an operator fixes them in one go.
    static func combining(_ errors: [ConfigError]) -> ConfigError {
        ConfigError(problems: errors.flatMap(\.problems))
    }

    /// The environment variables found wrong, in table order.
    public var variables: [String] {
        problems.compactMap { problem in
            switch problem {
            case .invalid(let variable, _, _, _), .duplicate(let variable): variable
            case .other(let variable, _): variable
            }
        }
    }

    /// One line per problem: `NAME=value: expected ...`.
    public var description: String {
        problems.map { problem in
            switch problem {
            case .invalid(let variable, let value, let expected, let secret):
                "\(variable)=\(secret ? "<hidden>" : displayValue(value)): expected \(expected)"
            case .duplicate(let variable):
                "\(variable) is defined twice in the settings table"
            case .other(_, let message):
                message
            }
        }.joined(separator: "\n")
    }
}

/// Shows a value as written when it is plain, and quoted with escapes when it is empty or holds spaces,
/// quotes or control characters, so an operator sees exactly what the daemon saw.
func displayValue(_ value: String) -> String {
    let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
        scalar.value > 0x20 && scalar.value != 0x7F && scalar != "\"" && scalar != "\\"
            && !(0x80...0x9F).contains(scalar.value)
    }
    if plain { return value }
    var quoted = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": quoted += "\\\""
        case "\\": quoted += "\\\\"
        case "\n": quoted += "\\n"
        case "\t": quoted += "\\t"
        case "\r": quoted += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                quoted += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                quoted.unicodeScalars.append(scalar)
            }
        }
    }
    return quoted + "\""
}
