/// The flags the API's clients share (`chat`, `complete`, `embed`, `test-api`, `bench`): the `--url` and
/// `--json` of ``ClientOptions``, with `--key` and `--timeout`.
extension ClientOptions {
    /// Where the API is when neither `--url` nor `INFER_URL` says: frontd on this machine.
    static let defaultURL = "http://127.0.0.1:8080/v1"
    /// One request's limit when `--timeout` is not given: generous, a CPU model may write for minutes.
    static let defaultTimeout: Duration = .seconds(300)

    /// The switches among the shared flags (flags that take no value).
    static let switches: Set<String> = ["--json"]

    /// Takes one of the shared flags.
    /// - Returns: false when the flag is not one of them (the command's own flags are looked at next).
    /// - Throws: ``InferctlError`` of kind `.usage` for a bad value.
    mutating func take(_ flag: FlagReader.Flag) throws(InferctlError) -> Bool {
        switch flag.name {
        case "--url": url = try flag.nonEmpty()
        case "--key": key = try flag.nonEmpty()
        case "--json": json = true
        case "--timeout": timeout = try flag.duration(allowZero: false)
        default: return false
        }
        return true
    }
}

/// The flags of commands that generate (`chat`, `complete`, `bench`): model and sampling.
struct GenerationOptions: Equatable {
    /// `--model NAME`: nil lets the server choose (frontd's `DEFAULT_MODEL`).
    var model: String?
    /// `--max-tokens N`: the most tokens to generate; nil is the server's default.
    var maxTokens: Int?
    /// `--temperature T`, 0 (greedy) to 2; nil is the server's default.
    var temperature: Double?

    /// The largest `--max-tokens` taken (what frontd's chat route accepts at most).
    static let maxTokensLimit = 1_000_000

    /// Takes one of the generation flags.
    /// - Returns: false when the flag is not one of them.
    /// - Throws: ``InferctlError`` of kind `.usage` for a bad value.
    mutating func take(_ flag: FlagReader.Flag) throws(InferctlError) -> Bool {
        switch flag.name {
        case "--model": model = try flag.nonEmpty()
        case "--max-tokens":
            guard let value = Int(flag.value), (1...Self.maxTokensLimit).contains(value) else {
                throw .usage("--max-tokens \(flag.value): expected an integer between 1 and \(Self.maxTokensLimit)")
            }
            maxTokens = value
        case "--temperature":
            guard let value = Double(flag.value), value.isFinite, (0...2).contains(value),
                  flag.value.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else {
                throw .usage("--temperature \(flag.value): expected a number between 0 (greedy) and 2")
            }
            temperature = value
        default: return false
        }
        return true
    }

    /// The fields these options add to a request body (`model`, `max_tokens`, `temperature`).
    var bodyFields: [String: Any] {
        var fields: [String: Any] = [:]
        if let model { fields["model"] = model }
        if let maxTokens { fields["max_tokens"] = maxTokens }
        if let temperature { fields["temperature"] = temperature }
        return fields
    }
}

/// A command line split into flags (for ``FlagReader``) and positional arguments, with short flags
/// spelled out (`-m TEXT` → `--message TEXT`). A flag that is not a switch takes the next argument as its
/// value whatever it looks like (`-m "-5 degrees"`); `--` ends the flags.
struct SplitArguments {
    /// `--name value` and `--name=value` flags, in order.
    var flags: [String] = []
    /// Everything else, in order.
    var positionals: [String] = []

    /// Splits `arguments`.
    /// - Parameters:
    ///   - arguments: What follows the command's name.
    ///   - switches: Flags that take no value.
    ///   - shortFlags: Short spellings and the long flag each stands for (`-m` → `--message`).
    ///   - command: The command, for messages.
    /// - Throws: ``InferctlError`` of kind `.usage` for an unknown short flag.
    init(_ arguments: [String], switches: Set<String>, shortFlags: [String: String] = [:], command: String)
        throws(InferctlError)
    {
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            if argument == "--" {
                positionals.append(contentsOf: remaining)
                break
            }
            if let long = shortFlags[argument] {
                flags.append(long)
                if !switches.contains(long), let value = remaining.popFirst() { flags.append(value) }
            } else if argument.hasPrefix("--") {
                flags.append(argument)
                if !argument.contains("="), !switches.contains(argument), let value = remaining.popFirst() { flags.append(value) }
            } else if argument.hasPrefix("-") && argument.count > 1 {
                throw .usage("unknown option \(argument) for \(command); see inferctl \(command) --help")
            } else {
                positionals.append(argument)
            }
        }
    }
}
