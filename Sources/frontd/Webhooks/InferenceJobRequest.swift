import IPC
import Registry
import Services

/// The `data` of an `inference.request` event, checked and turned into the generation its job runs:
///
/// `{"model"?: str, "prompt": str | "messages": [{"role", "content"}...], "max_tokens"?: int,
///   "params"?: {"max_new_tokens", "temperature", "top_p", "top_k", "seed", "stop", "frequency_penalty", "presence_penalty"}}`
///
/// `prompt` is raw text given to the model as it is (no chat template), `messages` are chat turns
/// rendered with the model's template; exactly one of them. Problems are 422s naming the field
/// (`data.params.temperature`).
enum InferenceJobRequest {
    /// Default `max_new_tokens`.
    static let defaultMaxTokens: UInt32 = 128

    /// - Parameters:
    ///   - data: The event's `data`.
    ///   - requestID: The id batchd and modeld log the generation under (the job's id).
    ///   - rules: DEFAULT_MODEL and MAX_TOKENS_LIMIT.
    ///   - chatModels: The registry's chat models, or nil when there is no registry to check against.
    static func generate(_ data: JSONObject, requestID: String, rules: RequestRules,
                         chatModels: [String]?) throws(APIError) -> GenerationProtocol.Generate {
        let model = try GenerationParametersParser(data, prefix: "data.", rules: rules).model(default: rules.defaultModel)
        if let chatModels, !chatModels.contains(model) {
            throw .unprocessable("no chat model is named \(model) (models: \(chatModels.joined(separator: ", ")))", param: "data.model")
        }
        var messages: [GenerationProtocol.Message] = []
        var prompt = ""
        switch (data["prompt"], data["messages"]) {
        case (let p?, nil) where !p.isNull:
            guard let s = p.string, !s.isEmpty else { throw .unprocessable("data.prompt must be a non-empty string", param: "data.prompt") }
            prompt = s
        case (nil, let m?) where !m.isNull:
            guard let list = m.array, !list.isEmpty else {
                throw .unprocessable("data.messages must be a non-empty array", param: "data.messages")
            }
            messages = try list.enumerated().map { (i, item) throws(APIError) in
                guard let o = item.object, let role = o["role"]?.string, ["system", "user", "assistant"].contains(role),
                      let content = o["content"]?.string else {
                    throw .unprocessable("data.messages[\(i)] must be {\"role\": system|user|assistant, \"content\": string}",
                                         param: "data.messages")
                }
                return GenerationProtocol.Message(role: role, content: content)
            }
        default:
            throw .unprocessable("data needs exactly one of prompt (raw text) or messages (chat turns)", param: "data.prompt")
        }
        let parameters = try Self.parameters(data, rules: rules)
        return GenerationProtocol.Generate(requestID: requestID, model: model, messages: messages, prompt: prompt, parameters: parameters)
    }

    /// The sampling parameters: `data.max_tokens`, or `data.params` as on `/v1/infer` (the same parser and
    /// limits, MAX_TOKENS_LIMIT included), errors naming `data.params.<field>`.
    private static func parameters(_ data: JSONObject, rules: RequestRules) throws(APIError) -> GenerationProtocol.Parameters {
        let top = GenerationParametersParser(data, prefix: "data.", rules: rules)
        let params = try InferRequest.paramsObject(data["params"], param: "data.params")
        let fields = GenerationParametersParser(params, prefix: "data.params.", rules: rules)
        var p = GenerationProtocol.Parameters(maxTokens: fields.defaultTokens(defaultMaxTokens), temperature: 1)
        if let t = try top.integer("max_tokens", top.tokenRange) { p.maxTokens = UInt32(t) }
        if let t = try fields.integer("max_new_tokens", fields.tokenRange) { p.maxTokens = UInt32(t) }
        if let k = try fields.integer("top_k", 0...1_000_000) { p.topK = UInt32(k) }
        try fields.sampling(into: &p)
        return p
    }
}
