import IPC
import Services

/// A validated native generation request: the body of `/v1/infer` and `/v1/infer/stream`, or one item
/// of `/v1/batch`. The prompt is sent as one user message through the model's chat template.
struct InferRequest {
    var model: String
    var prompt: String
    var parameters: GenerationProtocol.Parameters
    /// The client's `request_id`: the reply's `id` and the request's idempotency key.
    var requestID: String?

    /// `params` defaults: the original API's.
    static let defaultMaxNewTokens: UInt32 = 128
    static let defaultTemperature: Float = 0.7

    /// Parses and validates a body or a batch item.
    /// - Parameters:
    ///   - o: The object.
    ///   - rules: The default model (when the object names none; a batch passes its envelope's) and
    ///     the token limit.
    ///   - inheritedParams: A batch's top-level `params`, which the item's own `params` override field by field.
    ///   - path: How errors name the object's fields: "" for a body, "requests[2]." for a batch item.
    init(body o: JSONObject, rules: RequestRules, inheritedParams: JSONObject = JSONObject(), path: String = "") throws(APIError) {
        model = try GenerationParametersParser(o, prefix: path, rules: rules).model(default: rules.defaultModel)
        guard let p = o["prompt"]?.string, !p.isEmpty else {
            throw .unprocessable("\(path)prompt must be a non-empty string", param: path + "prompt")
        }
        prompt = p
        let own = try Self.paramsObject(o["params"], param: path + "params")
        parameters = try Self.parameters(inheritedParams.merging(own), prefix: path + "params.", rules: rules)
        requestID = try IdempotencyKey.requestID(o["request_id"], param: path + "request_id")
    }

    /// A `params` value: an object, or empty when absent or null.
    static func paramsObject(_ value: JSONValue?, param: String) throws(APIError) -> JSONObject {
        switch value {
        case nil, .null?: return JSONObject()
        case .object(let o)?: return o
        default: throw .unprocessable("\(param) must be an object", param: param)
        }
    }

    /// The native `params`: `max_new_tokens` (1...4096), `temperature`, `top_p`, `top_k` (≥ 0), `seed`,
    /// `stop`, `frequency_penalty`, `presence_penalty`; unknown fields are ignored.
    static func parameters(_ params: JSONObject, prefix: String, rules: RequestRules) throws(APIError)
        -> GenerationProtocol.Parameters {
        let fields = GenerationParametersParser(params, prefix: prefix, rules: rules)
        var p = GenerationProtocol.Parameters(maxTokens: fields.defaultTokens(defaultMaxNewTokens), temperature: defaultTemperature)
        if let n = try fields.integer("max_new_tokens", fields.tokenRange) { p.maxTokens = UInt32(n) }
        if let k = try fields.integer("top_k", 0...1_000_000) { p.topK = UInt32(k) }
        try fields.sampling(into: &p)
        return p
    }

    /// The generation this request asks batchd for: the prompt as one user message.
    func generate(requestID: String) -> GenerationProtocol.Generate {
        GenerationProtocol.Generate(requestID: requestID, model: model, messages: [GenerationProtocol.Message(role: "user", content: prompt)],
                                    parameters: parameters)
    }

    /// The idempotency fingerprint: the same for `/v1/infer` and a batch item asking the same, so a
    /// `request_id` answered by one is replayed by the other.
    var fingerprint: String {
        IdempotencyKey.fingerprint(route: "infer", Array(generate(requestID: "").cacheKey.utf8))
    }
}
