import Engine
import Foundation

/// `modeld generate` and `modeld embed`: the built-in engine by hand, streaming to the terminal.
enum ModelCommand {
    static let usage = """
        usage: modeld generate [--model FILE.gguf] [--chat] [--system TEXT] [--max-tokens N]
                               [--temperature T] [--top-p P] [--top-k K] [--seed S] [--stop TEXT]...
                               [--threads N] --prompt TEXT
               modeld embed [--model-dir DIR] [--threads N] TEXT...

        Models default to $INFER_MODELS_DIR (or ./models): smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
        and minilm/. Fetch them with scripts/fetch-models.sh.
        """

    /// Runs the command line; returns the process exit status.
    static func main(_ args: [String]) -> Int32 {
        guard let verb = args.first else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            return 2
        }
        do {
            var options = try Options(Array(args.dropFirst()))
            if let t = options.threads { EngineThreads.set(t) }
            switch verb {
            case "generate": try generate(&options)
            case "embed": try embed(options)
            case "-h", "--help", "help":
                print(usage)
            default:
                throw UsageError("unknown command \(verb)")
            }
            return 0
        } catch let e as UsageError {
            FileHandle.standardError.write(Data("modeld: \(e.message)\n\(usage)\n".utf8))
            return 2
        } catch {
            FileHandle.standardError.write(Data("modeld: \(error)\n".utf8))
            return 1
        }
    }

    static var modelsDir: String {
        ProcessInfo.processInfo.environment["INFER_MODELS_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "models"
    }

    static func generate(_ o: inout Options) throws {
        guard let prompt = o.prompt else { throw UsageError("generate needs --prompt TEXT") }
        let path = o.model ?? modelsDir + "/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        let gguf = try GGUFFile(path: path)
        let model = try LlamaModel(gguf: gguf)
        let tokenizer = try BPETokenizer(gguf: gguf)
        var text = prompt
        if o.chat {
            var messages: [ChatMessage] = []
            if let s = o.system { messages.append(ChatMessage(role: "system", content: s)) }
            messages.append(ChatMessage(role: "user", content: prompt))
            text = try ChatTemplate(gguf: gguf).render(messages)
        }
        let ids = tokenizer.encode(text)
        let decoder = BatchDecoder(model: model, tokenizer: tokenizer, maxBatch: 1)
        try decoder.add(id: 0, prompt: ids, parameters: o.parameters)
        let start = ContinuousClock.now
        var firstToken: Duration?
        var last: BatchDecoder.Event?
        while !decoder.isEmpty {
            for e in try decoder.step() {
                if firstToken == nil { firstToken = start.duration(to: .now) }
                FileHandle.standardOutput.write(Data(e.text.utf8))
                last = e
            }
        }
        let total = start.duration(to: .now)
        if let last, let firstToken {
            let decodeSecs = Double((total - firstToken).components.attoseconds) / 1e18 + Double((total - firstToken).components.seconds)
            let rate = last.completionTokens > 1 ? Double(last.completionTokens - 1) / decodeSecs : 0
            FileHandle.standardError.write(Data(String(
                format: "\n[%d prompt tokens, %d generated, finish: %@, first token %.0f ms, %.1f tokens/s]\n",
                last.promptTokens, last.completionTokens, last.finish?.rawValue ?? "?",
                Double(firstToken.components.attoseconds) / 1e15 + Double(firstToken.components.seconds) * 1e3, rate).utf8))
        }
    }

    static func embed(_ o: Options) throws {
        guard !o.rest.isEmpty else { throw UsageError("embed needs at least one TEXT") }
        let embedder = try BertEmbedder(directory: o.modelDir ?? modelsDir + "/minilm")
        for (text, v) in zip(o.rest, try embedder.embed(o.rest)) {
            let values = v.map { String(format: "%.6f", $0) }.joined(separator: ", ")
            print("\(text)\t[\(values)]")
        }
    }
}

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The command line's options, checked as they are read.
struct Options {
    var model: String?
    var modelDir: String?
    var prompt: String?
    var system: String?
    var chat = false
    var threads: Int?
    var parameters = GenerationParameters(temperature: 0, maxTokens: 128)
    var rest: [String] = []

    init(_ args: [String]) throws {
        var i = 0
        func value(_ flag: String) throws -> String {
            i += 1
            guard i < args.count else { throw UsageError("\(flag) needs a value") }
            return args[i]
        }
        func number<T: LosslessStringConvertible>(_ flag: String, _: T.Type) throws -> T {
            let v = try value(flag)
            guard let n = T(v) else { throw UsageError("\(flag) expects a number, got \(v)") }
            return n
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--model": model = try value(a)
            case "--model-dir": modelDir = try value(a)
            case "--prompt": prompt = try value(a)
            case "--system": system = try value(a)
            case "--chat": chat = true
            case "--threads": threads = try number(a, Int.self)
            case "--max-tokens": parameters.maxTokens = try number(a, Int.self)
            case "--temperature": parameters.temperature = try number(a, Float.self)
            case "--top-p": parameters.topP = try number(a, Float.self)
            case "--top-k": parameters.topK = try number(a, Int.self)
            case "--seed": parameters.seed = try number(a, UInt64.self)
            case "--stop": parameters.stop.append(try value(a))
            case "--": rest.append(contentsOf: args[(i + 1)...]); i = args.count; continue
            default:
                if a.hasPrefix("--") { throw UsageError("unknown option \(a)") }
                rest.append(a)
            }
            i += 1
        }
        if let t = threads, t < 1 { throw UsageError("--threads must be at least 1") }
        do { try parameters.validate() } catch let e as ParameterError { throw UsageError("--\(e.parameter.replacingOccurrences(of: "_", with: "-")) \(e.message)") }
    }
}
