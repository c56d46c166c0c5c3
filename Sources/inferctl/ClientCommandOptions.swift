/// The flags of `inferctl chat`.
struct ChatOptions: Equatable {
    var client = ClientOptions()
    var generation = GenerationOptions()
    /// `-m`/`--message TEXT`: one question, one answer, no REPL.
    var message: String?
    /// `--system TEXT`: the system message that starts the conversation.
    var system: String?
    /// False with `--no-stream`: the answer is printed when it is complete.
    var stream = true

    /// Parses the flags after `chat`.
    /// - Throws: ``InferctlError`` of kind `.usage`.
    static func parse(_ arguments: [String]) throws(InferctlError) -> ChatOptions {
        var options = ChatOptions()
        var system: String?
        options.message = try parseGenerating(arguments, command: "chat", text: ("-m", "--message"), client: &options.client,
                                              generation: &options.generation, stream: &options.stream) { flag throws(InferctlError) in
            guard flag.name == "--system" else { return false }
            system = try flag.nonEmpty()
            return true
        }
        options.system = system
        return options
    }
}

/// The flags of `inferctl complete`.
struct CompleteOptions: Equatable {
    var client = ClientOptions()
    var generation = GenerationOptions()
    /// `-p`/`--prompt TEXT`: the text to continue (else stdin).
    var prompt: String?
    /// False with `--no-stream`.
    var stream = true

    /// Parses the flags after `complete`.
    /// - Throws: ``InferctlError`` of kind `.usage`.
    static func parse(_ arguments: [String]) throws(InferctlError) -> CompleteOptions {
        var options = CompleteOptions()
        options.prompt = try parseGenerating(arguments, command: "complete", text: ("-p", "--prompt"), client: &options.client,
                                             generation: &options.generation, stream: &options.stream) { _ in false }
        return options
    }
}

/// The flags `chat` and `complete` share: the common ones, the generation ones, `--no-stream`, and the
/// text to send (`-m`/`--message`, `-p`/`--prompt`); `own` takes the command's other flags.
/// - Returns: The text, when given.
/// - Throws: ``InferctlError`` of kind `.usage`.
private func parseGenerating(
    _ arguments: [String], command: String, text: (short: String, long: String), client: inout ClientOptions,
    generation: inout GenerationOptions, stream: inout Bool, own: (FlagReader.Flag) throws(InferctlError) -> Bool
) throws(InferctlError) -> String? {
    let switches = ClientOptions.switches.union(["--no-stream"])
    let split = try SplitArguments(arguments, switches: switches, shortFlags: [text.short: text.long], command: command)
    if let stray = split.positionals.first {
        throw .usage("unexpected argument \"\(stray)\" for \(command); the text goes after \(text.short) "
            + "(inferctl \(command) \(text.short) \"...\")")
    }
    var value: String?
    var flags = FlagReader(split.flags, command: command, switches: switches)
    while let flag = try flags.next() {
        if try client.take(flag) { continue }
        if try generation.take(flag) { continue }
        if try own(flag) { continue }
        switch flag.name {
        case text.long: value = try flag.nonEmpty()
        case "--no-stream": stream = false
        default: throw flag.unknown()
        }
    }
    return value
}

/// The flags of `inferctl embed`.
struct EmbedOptions: Equatable {
    var client = ClientOptions()
    /// `--model NAME`: nil lets the server choose (frontd: `minilm`).
    var model: String?
    /// The texts to embed, one vector each (else the lines of stdin).
    var texts: [String] = []

    /// Parses the arguments after `embed`: texts and flags in any order.
    /// - Throws: ``InferctlError`` of kind `.usage`.
    static func parse(_ arguments: [String]) throws(InferctlError) -> EmbedOptions {
        let split = try SplitArguments(arguments, switches: ClientOptions.switches, command: "embed")
        let options = try FlagReader.read(split.flags, command: "embed", switches: ClientOptions.switches,
                                          into: EmbedOptions(texts: split.positionals)) { options, flag throws(InferctlError) in
            if try options.client.take(flag) { return true }
            guard flag.name == "--model" else { return false }
            options.model = try flag.nonEmpty()
            return true
        }
        if options.texts.contains(where: \.isEmpty) { throw .usage("embed: a text is empty") }
        return options
    }
}

/// The flags of `inferctl test-api`.
struct TestAPIOptions: Equatable {
    var client = ClientOptions()
    /// `--model NAME`: the generation model the checks use (nil: the server's default).
    var model: String?
    /// `--embedding-model NAME`: the embedding model (nil: the server's default).
    var embeddingModel: String?

    /// Parses the flags after `test-api`.
    /// - Throws: ``InferctlError`` of kind `.usage`.
    static func parse(_ arguments: [String]) throws(InferctlError) -> TestAPIOptions {
        try FlagReader.read(arguments, command: "test-api", switches: ClientOptions.switches, into: TestAPIOptions()) { options, flag throws(InferctlError) in
            if try options.client.take(flag) { return true }
            switch flag.name {
            case "--model": options.model = try flag.nonEmpty()
            case "--embedding-model": options.embeddingModel = try flag.nonEmpty()
            default: return false
            }
            return true
        }
    }
}

extension InferctlCommand {
    /// `chat`, `complete`, `embed`, `test-api` and `bench` with their arguments. `-h` or `--help` as a
    /// flag of its own shows the command's help; as a flag's value (`chat -m --help`) it is that value.
    static func parseClientCommand(_ name: String, _ arguments: [String]) throws(InferctlError) -> InferctlCommand {
        if wantsHelp(arguments) { return .help(topic: name) }
        switch name {
        case "chat": return .chat(try ChatOptions.parse(arguments))
        case "complete": return .complete(try CompleteOptions.parse(arguments))
        case "embed": return .embed(try EmbedOptions.parse(arguments))
        case "test-api": return .testAPI(try TestAPIOptions.parse(arguments))
        default: return .bench(try BenchOptions.parse(arguments))
        }
    }

    /// Whether `-h` or `--help` is among the arguments as a flag of its own (not the value of a flag
    /// such as `-m`, and not after `--`).
    private static func wantsHelp(_ arguments: [String]) -> Bool {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { return false }
            if argument == "-h" || argument == "--help" { return true }
            // A flag's value is skipped: short value flags, and long ones written apart from their value.
            if ["-m", "-p"].contains(argument) || (argument.hasPrefix("--") && !argument.contains("=") && !valueless.contains(argument)) {
                index += 1
            }
            index += 1
        }
        return false
    }

    /// The client commands' flags that take no value.
    private static let valueless: Set<String> = ClientOptions.switches.union(["--no-stream", "--stream", "--allow-cache"])
}
