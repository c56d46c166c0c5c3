/// What `inferctl` was asked to do, parsed from its command line.
enum InferctlCommand: Equatable {
    /// `inferctl --help`, `inferctl help [COMMAND]`, `inferctl COMMAND --help`.
    case help(topic: String?)
    /// `inferctl up ...`: run the whole stack in the foreground.
    case up(UpOptions)
    /// `inferctl status ...`: show what a running `inferctl up` supervises.
    case status(StatusOptions)
    /// `inferctl keys create|list|revoke ...`: manage the API keys file.
    case keys(KeysOptions)
    /// `inferctl health`: frontd's readiness.
    case health(ClientOptions)
    /// `inferctl metrics`: a summary of metricsd's exposition.
    case metrics(ClientOptions)
    /// `inferctl version`: inferctl's and the running stack's version.
    case version(ClientOptions)
    /// `inferctl config check`: the environment file, registry and keys file validated together.
    case config(ConfigOptions)
    /// `inferctl completion bash|zsh`: a shell completion script.
    case completion(shell: String)
    /// `inferctl chat ...`: a conversation with a model, or one question with `-m`.
    case chat(ChatOptions)
    /// `inferctl complete -p PROMPT ...`: a raw-prompt completion.
    case complete(CompleteOptions)
    /// `inferctl embed TEXT... `: embedding vectors.
    case embed(EmbedOptions)
    /// `inferctl test-api ...`: every route of a running stack checked.
    case testAPI(TestAPIOptions)
    /// `inferctl bench ...` and `inferctl bench compare A B`: the load generator.
    case bench(BenchOptions)

    /// The commands, for help and errors.
    static let commands = ["up", "status", "keys", "health", "metrics", "version", "config", "completion", "chat",
                           "complete", "embed", "test-api", "bench", "help"]
    /// The commands that run the stack or ask it, as opposed to the API's clients.
    private static let operatorCommands: Set = ["up", "status", "keys", "health", "metrics", "version", "config", "completion"]

    /// Parses the arguments after the program's name.
    /// - Parameter arguments: `CommandLine.arguments.dropFirst()`.
    /// - Returns: The command.
    /// - Throws: ``InferctlError`` of kind `.usage` naming the wrong argument.
    static func parse(_ arguments: [String]) throws(InferctlError) -> InferctlCommand {
        guard let first = arguments.first else { return .help(topic: nil) }
        let rest = Array(arguments.dropFirst())
        // The operator's commands show their help for -h or --help anywhere after them (the API's clients
        // look closer: there it may be a flag's value, parseClientCommand).
        if operatorCommands.contains(first), rest.contains(where: { $0 == "-h" || $0 == "--help" }) {
            return .help(topic: first)
        }
        switch first {
        case "-h", "--help":
            return .help(topic: nil)
        case "help":
            guard rest.count <= 1 else { throw .usage("help takes at most one command") }
            if let topic = rest.first, !commands.contains(topic) {
                throw .usage("unknown command \"\(topic)\"; commands are \(commands.joined(separator: ", "))")
            }
            return .help(topic: rest.first)
        case "up":
            return .up(try UpOptions.parse(rest))
        case "status":
            return .status(try StatusOptions.parse(rest))
        case "keys":
            return .keys(try KeysOptions.parse(rest))
        case "health", "metrics", "version":
            let options = try ClientOptions.parse(rest, command: first)
            return first == "health" ? .health(options) : first == "metrics" ? .metrics(options) : .version(options)
        case "config":
            guard rest.first == "check" else { throw .usage("config takes one subcommand: check") }
            return .config(try ConfigOptions.parse(Array(rest.dropFirst())))
        case "completion":
            guard rest.count == 1, let shell = rest.first, ["bash", "zsh"].contains(shell) else {
                throw .usage("completion takes one shell: bash or zsh")
            }
            return .completion(shell: shell)
        case "chat", "complete", "embed", "test-api", "bench":
            return try parseClientCommand(first, rest)
        default:
            throw .usage("unknown command \"\(first)\"; commands are \(commands.joined(separator: ", "))")
        }
    }
}

/// The flags of `inferctl up`; nil means "from the environment, else the default".
struct UpOptions: Equatable {
    /// `--runtime-dir DIR`: where the Unix sockets go (`INFER_RUNTIME_DIR`, default /run/infer).
    var runtimeDirectory: String?
    /// `--bin-dir`, `--registry`, `--env-file`, `--keys-file`: the stack's files (the environment files'
    /// KEY=VALUE lines are added to the daemons' environment, later files win).
    var files = StackFileOptions()
    /// `--port N`: frontd's HTTP port (`PORT`, default 8080; 0 picks a free one).
    var port: Int?
    /// `--metrics-port N`: metricsd's Prometheus port (`METRICS_PORT`, default 9464; 0 picks a free one).
    var metricsPort: Int?
    /// `--watchdog-sec SEC`: `WatchdogSec=` of every daemon; 0 turns the watchdog off.
    var watchdog: Duration?
    /// `--stop-timeout SEC`: how long a daemon may drain after SIGTERM before SIGKILL.
    var stopTimeout: Duration?
    /// `--start-timeout SEC`: how long a daemon may take to send READY=1.
    var startTimeout: Duration?
    /// `--first-key`: when the keys file has no key, create one with every scope and show it in the banner.
    var firstKey = false

    /// Parses the flags after `up`.
    /// - Parameter arguments: The flags, `--name value` or `--name=value`.
    /// - Returns: The options.
    /// - Throws: ``InferctlError`` of kind `.usage`.
    static func parse(_ arguments: [String]) throws(InferctlError) -> UpOptions {
        try FlagReader.read(arguments, command: "up", switches: ["--first-key"], into: UpOptions()) { options, flag throws(InferctlError) in
            if try options.files.take(flag) { return true }
            switch flag.name {
            case "--runtime-dir": options.runtimeDirectory = try flag.nonEmpty()
            case "--port": options.port = try flag.port()
            case "--metrics-port": options.metricsPort = try flag.port()
            case "--watchdog-sec": options.watchdog = try flag.duration(allowZero: true)
            case "--stop-timeout": options.stopTimeout = try flag.duration(allowZero: true)
            case "--start-timeout": options.startTimeout = try flag.duration(allowZero: false)
            case "--first-key": options.firstKey = true
            default: return false
            }
            return true
        }
    }
}

/// The flags of `inferctl status`.
struct StatusOptions: Equatable {
    /// `--runtime-dir DIR`: the directory of the stack to show (`INFER_RUNTIME_DIR`, default /run/infer).
    var runtimeDirectory: String?
    /// `--json`: print the state file as it is.
    var json = false

    /// Parses the flags after `status`.
    /// - Parameter arguments: The flags.
    /// - Returns: The options.
    /// - Throws: ``InferctlError`` of kind `.usage`.
    static func parse(_ arguments: [String]) throws(InferctlError) -> StatusOptions {
        try FlagReader.read(arguments, command: "status", switches: ["--json"], into: StatusOptions()) { options, flag throws(InferctlError) in
            switch flag.name {
            case "--runtime-dir": options.runtimeDirectory = try flag.nonEmpty()
            case "--json": options.json = true
            default: return false
            }
            return true
        }
    }
}

/// Walks `--name value` / `--name=value` flags.
struct FlagReader {
    /// One flag and its value.
    struct Flag {
        let name: String
        let value: String
        let command: String

        func nonEmpty() throws(InferctlError) -> String {
            guard !value.isEmpty else { throw .usage("\(name) needs a value") }
            return value
        }

        func port() throws(InferctlError) -> Int {
            guard let number = Int(value), (0...65535).contains(number) else {
                throw .usage("\(name) \(value): expected a port number between 0 and 65535 (0 picks a free port)")
            }
            return number
        }

        func duration(allowZero: Bool) throws(InferctlError) -> Duration {
            guard let duration = parseSeconds(value), allowZero || duration > .zero else {
                throw .usage("\(name) \(value): expected seconds\(allowZero ? "" : " above 0") "
                    + "(a number such as 10 or 0.5, or with a unit: 500ms, 2s, 1m)")
            }
            return duration
        }

        func unknown() -> InferctlError {
            .usage("unknown option \(name) for \(command); see inferctl \(command) --help")
        }
    }

    private var remaining: ArraySlice<String>
    private let command: String
    private let switches: Set<String>

    init(_ arguments: [String], command: String, switches: Set<String> = []) {
        remaining = arguments[...]
        self.command = command
        self.switches = switches
    }

    /// Reads every flag of `arguments` into `options`, the shell of each command's parser.
    /// - Parameters:
    ///   - arguments: The flags, `--name value` or `--name=value`.
    ///   - command: The command, for messages.
    ///   - switches: Flags that take no value.
    ///   - options: The options before any flag (the defaults).
    ///   - take: Sets the field of one flag, or returns false for a flag the command does not have (then
    ///     the "unknown option" error).
    /// - Returns: The options.
    /// - Throws: ``InferctlError`` of kind `.usage`.
    static func read<Options>(
        _ arguments: [String], command: String, switches: Set<String> = [], into options: Options,
        _ take: (inout Options, Flag) throws(InferctlError) -> Bool
    ) throws(InferctlError) -> Options {
        var options = options
        var flags = FlagReader(arguments, command: command, switches: switches)
        while let flag = try flags.next() {
            guard try take(&options, flag) else { throw flag.unknown() }
        }
        return options
    }

    mutating func next() throws(InferctlError) -> Flag? {
        guard let argument = remaining.popFirst() else { return nil }
        guard argument.hasPrefix("--") else {
            throw .usage("unexpected argument \"\(argument)\" for \(command); see inferctl \(command) --help")
        }
        if let equals = argument.firstIndex(of: "=") {
            let name = String(argument[..<equals])
            if switches.contains(name) { throw .usage("\(name) takes no value") }
            return Flag(name: name, value: String(argument[argument.index(after: equals)...]), command: command)
        }
        if switches.contains(argument) { return Flag(name: argument, value: "", command: command) }
        guard let value = remaining.popFirst() else { throw .usage("\(argument) needs a value") }
        return Flag(name: argument, value: value, command: command)
    }
}

/// Parses seconds: "10", "0.5", "500ms", "2s", "1m".
/// - Parameter text: The text.
/// - Returns: The duration, or nil when the text is not one (negative, not a number, over a day).
func parseSeconds(_ text: String) -> Duration? {
    let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
    var number = Substring(text)
    var scale = 1.0
    for unit in units where text.hasSuffix(unit.suffix) {
        number = text.dropLast(unit.suffix.count)
        scale = unit.seconds
        break
    }
    // Digits and one point only: Double() would also take "inf", "nan" and hexadecimal.
    guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
          let value = Double(number) else { return nil }
    let seconds = value * scale
    let oneDay = 86_400.0
    guard seconds.isFinite, seconds >= 0, seconds <= oneDay else { return nil }
    return .nanoseconds(Int64((seconds * 1e9).rounded()))
}
