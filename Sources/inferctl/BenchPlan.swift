import Foundation

/// A bench run made concrete: the prompts, the request every prompt becomes, and the two bounds every
/// run has, a request count and a time.
struct BenchPlan: Sendable {
    /// The prompts, taken in turn.
    let prompts: [String]
    /// Where they came from: `built-in` or the file.
    let promptsSource: String
    /// Requests in flight at once.
    let concurrency: Int
    /// The most requests sent.
    let requestLimit: Int
    /// No request is sent after this long.
    let timeLimit: Duration
    /// Whether `--requests` or `--duration` was given (for the report).
    let requestsGiven: Int?
    let durationGiven: Duration?
    /// Streamed requests.
    let stream: Bool
    let model: String?
    let maxTokens: Int
    let temperature: Double
    /// Headers every request carries (the cache bypass).
    let headers: [String: String]

    /// A run with neither `--requests` nor `--duration` lasts this long.
    static let defaultDuration: Duration = .seconds(10)
    /// A run with `--requests` alone stops sending after this long all the same.
    static let maximumDuration: Duration = .seconds(600)
    /// What asks a gateway neither to answer from its response cache nor to store the answer (servers
    /// without a cache ignore it).
    static let cacheBypass = ["Cache-Control": "no-cache, no-store"]
    /// Tokens generated per request when `--max-tokens` is not given.
    static let defaultMaxTokens = 64

    /// Short, varied questions, so a run needs no file.
    static let builtInPrompts = [
        "What is the capital of France?",
        "Write a haiku about the sea.",
        "Explain what a CPU cache is in two sentences.",
        "List three fruits that are red.",
        "How many legs does a spider have?",
        "Give me a name for a friendly robot.",
        "What is 12 times 12?",
        "Describe the colour blue to someone who cannot see.",
    ]

    /// Resolves the options: reads the prompts file, picks the bounds.
    /// - Throws: ``InferctlError``: a prompts file that cannot be read (71) or holds no prompt (78).
    init(_ options: BenchRunOptions) throws(InferctlError) {
        if let file = options.promptsFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw .system("--prompts \(file): cannot be read")
            }
            let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw .configuration("--prompts \(file): no prompt in it (one per line)") }
            prompts = lines
            promptsSource = file
        } else {
            prompts = Self.builtInPrompts
            promptsSource = "built-in"
        }
        concurrency = options.concurrency
        requestsGiven = options.requests
        durationGiven = options.duration
        requestLimit = options.requests ?? BenchRunOptions.maxRequests
        timeLimit = options.duration ?? (options.requests == nil ? Self.defaultDuration : Self.maximumDuration)
        stream = options.stream
        model = options.generation.model
        maxTokens = options.generation.maxTokens ?? Self.defaultMaxTokens
        temperature = options.generation.temperature ?? 0
        headers = options.allowCache ? [:] : Self.cacheBypass
    }

    /// The chat request of the `index`th request: the prompts in turn.
    func body(_ index: Int) -> Data {
        var fields: [String: Any] = [
            "messages": [["role": "user", "content": prompts[index % prompts.count]]],
            "max_tokens": maxTokens, "temperature": temperature,
        ]
        if let model { fields["model"] = model }
        if stream {
            fields["stream"] = true
            fields["stream_options"] = ["include_usage": true]
        }
        return APIClient.json(fields)
    }
}
