import Engine
import Foundation

/// `modeld generate`, `modeld embed` and `modeld help`: the engine by hand, without sockets or a daemon.
///
/// ```
/// modeld generate --chat --max-tokens 64 --prompt "What is the capital of France?"
/// modeld embed "hello world" "another text"
/// ```
enum ModelCommand {
    /// The first arguments that select the command line instead of the daemon.
    static let commands: Set<String> = ["generate", "embed", "help", "--usage"]

    static let usage = """
        Usage:
          modeld                      run the daemon (settings from the environment; modeld --help lists them)
          modeld generate [options] --prompt TEXT
              --model PATH            GGUF file (default $INFER_MODELS_DIR/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)
              --chat                  render the prompt as a user turn with the model's chat template
              --system TEXT           system message (with --chat; default: the template's own)
              --max-tokens N          most tokens to generate (default 128)
              --temperature T         0 is greedy (default 0)
              --top-p P, --top-k K, --seed S, --frequency-penalty F, --presence-penalty F
              --stop TEXT             stop sequence (repeatable, at most 4)
              --threads N             engine threads (default: every processor)
          modeld embed [--model DIR] [--threads N] TEXT...
              prints one JSON array per text (default model $INFER_MODELS_DIR/minilm)
          modeld help                 this text

        """

    /// Whether `argument` (argv[1]) selects the command line.
    static func handles(_ argument: String) -> Bool { commands.contains(argument) }

    /// Runs a command.
    /// - Parameter arguments: The command line without the program name (`["generate", "--prompt", "hi"]`).
    /// - Returns: The exit status: 0, 1 when the model fails, 64 (EX_USAGE) for a bad command line.
    static func run(_ arguments: [String]) -> Int32 {
        guard let command = arguments.first else { return usageError("no command") }
        let rest = Array(arguments.dropFirst())
        do {
            switch command {
            case "generate": return try generate(rest)
            case "embed": return try embed(rest)
            default:
                print(usage, terminator: "")
                return 0
            }
        } catch let error as UsageError {
            return usageError(error.description)
        } catch {
            FileHandle.standardError.write(Data("modeld \(command): \(error)\n".utf8))
            return 1
        }
    }

    private static func usageError(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("modeld: \(message)\n\n\(usage)".utf8))
        return 64
    }

    /// A command line modeld does not understand.
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    /// The models folder: `$INFER_MODELS_DIR`, else `./models`.
    static func defaultModelPath(_ name: String) -> String {
        let environment = ProcessInfo.processInfo.environment
        let directory = environment["INFER_MODELS_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "models"
        return (directory as NSString).appendingPathComponent(ModelSource.defaultRelativePaths[name] ?? name)
    }

    // MARK: generate

    private static func generate(_ arguments: [String]) throws -> Int32 {
        let options = try OptionParser(arguments, valued: [
            "--model", "--prompt", "--system", "--max-tokens", "--temperature", "--top-p", "--top-k", "--seed",
            "--frequency-penalty", "--presence-penalty", "--stop", "--threads",
        ], flags: ["--chat"])
        guard options.positional.isEmpty else { throw UsageError(description: "unexpected argument \(options.positional[0])") }
        guard let prompt = options.last("--prompt") else { throw UsageError(description: "generate needs --prompt TEXT") }
        var parameters = GenerationParameters.greedy(maxTokens: 128)
        parameters.maxTokens = try options.int("--max-tokens") ?? parameters.maxTokens
        parameters.temperature = try options.float("--temperature") ?? parameters.temperature
        parameters.topP = try options.float("--top-p") ?? parameters.topP
        parameters.topK = try options.int("--top-k") ?? parameters.topK
        parameters.seed = try options.int("--seed").map { UInt64(truncatingIfNeeded: $0) }
        parameters.frequencyPenalty = try options.float("--frequency-penalty") ?? 0
        parameters.presencePenalty = try options.float("--presence-penalty") ?? 0
        parameters.stop = options.all("--stop")
        do {
            try parameters.validate()
        } catch {
            throw UsageError(description: "\(error)")
        }
        if let threads = try options.int("--threads") { EngineThreads.set(threads) }

        let chat = try ChatModel(path: options.last("--model") ?? defaultModelPath("smollm2"))
        var text = prompt
        if options.flag("--chat") {
            var messages: [ChatMessage] = []
            if let system = options.last("--system") { messages.append(ChatMessage(role: "system", content: system)) }
            messages.append(ChatMessage(role: "user", content: prompt))
            text = chat.template.render(messages)
        }
        let tokens = chat.tokenizer.encode(text, parseSpecial: true)
        let decoder = BatchDecoder(model: chat.model, tokenizer: chat.tokenizer, maxBatch: 1)
        try decoder.add(id: 0, prompt: tokens, parameters: parameters)
        let started = ContinuousClock.now
        var firstToken: ContinuousClock.Instant?
        var last: BatchDecoder.Event?
        while !decoder.isEmpty {
            for event in try decoder.step() {
                if firstToken == nil { firstToken = .now }
                FileHandle.standardOutput.write(Data(event.text.utf8))
                last = event
            }
        }
        print()
        if let last, let firstToken {
            let decodeTime = (ContinuousClock.now - firstToken).seconds
            let rate = last.completionTokens > 1 && decodeTime > 0 ? Double(last.completionTokens - 1) / decodeTime : 0
            let summary = "[\(last.promptTokens) prompt tokens, \(last.completionTokens) completion tokens, "
                + "finish \(last.finish?.rawValue ?? "?"), first token \(Int((firstToken - started).seconds * 1000)) ms, "
                + "\(String(format: "%.1f", rate)) tokens/s]\n"
            FileHandle.standardError.write(Data(summary.utf8))
        }
        return 0
    }

    // MARK: embed

    private static func embed(_ arguments: [String]) throws -> Int32 {
        let options = try OptionParser(arguments, valued: ["--model", "--threads"], flags: [])
        guard !options.positional.isEmpty else { throw UsageError(description: "embed needs at least one TEXT") }
        if let threads = try options.int("--threads") { EngineThreads.set(threads) }
        let embedder = try EmbedderLoader.load(directory: options.last("--model") ?? defaultModelPath("minilm"))
        for vector in try embedder.embed(options.positional) {
            print("[" + vector.map { String(format: "%.6f", $0) }.joined(separator: ",") + "]")
        }
        return 0
    }
}

/// `--name value` options, `--flag`s and positional arguments (`--` ends options).
struct OptionParser {
    private(set) var values: [String: [String]] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positional: [String] = []

    init(_ arguments: [String], valued: Set<String>, flags known: Set<String>) throws {
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || !argument.hasPrefix("--") {
                positional.append(argument)
            } else if argument == "--" {
                optionsEnded = true
            } else if known.contains(argument) {
                flags.insert(argument)
            } else if valued.contains(argument) {
                guard index < arguments.count else {
                    throw ModelCommand.UsageError(description: "\(argument) needs a value")
                }
                values[argument, default: []].append(arguments[index])
                index += 1
            } else {
                throw ModelCommand.UsageError(description: "unknown option \(argument)")
            }
        }
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }
    func last(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }

    func int(_ name: String) throws -> Int? {
        guard let text = last(name) else { return nil }
        guard let value = Int(text) else { throw ModelCommand.UsageError(description: "\(name) \(text): expected an integer") }
        return value
    }

    func float(_ name: String) throws -> Float? {
        guard let text = last(name) else { return nil }
        guard let value = Float(text), value.isFinite else {
            throw ModelCommand.UsageError(description: "\(name) \(text): expected a number")
        }
        return value
    }
}
