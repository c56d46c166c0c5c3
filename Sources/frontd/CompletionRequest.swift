import IPC
import Services

/// A validated `POST /v1/completions` body: OpenAI's legacy completions on the raw prompt (no chat
/// template).
struct CompletionRequest {
    var model: String
    var prompt: String
    var parameters: GenerationProtocol.Parameters
    var stream: Bool
    var includeUsage: Bool

    /// OpenAI's default `max_tokens` for completions.
    static let defaultMaxTokens: UInt32 = 16

    /// Parses and validates the body; every problem names the field (`param`).
    init(body o: JSONObject, rules: RequestRules) throws(APIError) {
        let fields = GenerationParametersParser(o, rules: rules)
        model = try fields.model(default: rules.defaultModel)
        switch o["prompt"] {
        case .string(let s)? where !s.isEmpty: prompt = s
        case .array(let a)? where a.count == 1:
            guard let s = a[0].string, !s.isEmpty else {
                throw .unprocessable("prompt must be a non-empty string or an array of one", param: "prompt")
            }
            prompt = s
        case .array(let a)? where a.count > 1:
            throw .unprocessable("only one prompt per request is supported (got \(a.count)); send them to /v1/batch", param: "prompt")
        default:
            throw .unprocessable("prompt must be a non-empty string or an array of one", param: "prompt")
        }
        var p = GenerationProtocol.Parameters(maxTokens: fields.defaultTokens(Self.defaultMaxTokens), temperature: 1)
        if let t = try fields.integer("max_tokens", fields.tokenRange) { p.maxTokens = UInt32(t) }
        try fields.sampling(into: &p)
        try fields.requireSingleChoice()
        if let bestOf = try fields.number("best_of"), bestOf != 1 {
            throw .unprocessable("only best_of=1 is supported", param: "best_of")
        }
        if try fields.boolean("echo") == true {
            throw .unprocessable("echo is not supported", param: "echo")
        }
        if o.present("logprobs") != nil {
            throw .unprocessable("logprobs are not supported; send null", param: "logprobs")
        }
        if o.present("suffix") != nil {
            throw .unprocessable("suffix is not supported", param: "suffix")
        }
        parameters = p
        stream = try fields.boolean("stream") ?? false
        includeUsage = try fields.includeUsage()
    }

    /// The generation this request asks batchd for: the raw prompt, no messages.
    func generate(requestID: String) -> GenerationProtocol.Generate {
        GenerationProtocol.Generate(requestID: requestID, model: model, prompt: prompt, parameters: parameters)
    }
}
