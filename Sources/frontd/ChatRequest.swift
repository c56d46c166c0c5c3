import IPC
import Services

/// A validated `POST /v1/chat/completions` body.
struct ChatRequest {
    var model: String
    var messages: [GenerationProtocol.Message]
    var parameters: GenerationProtocol.Parameters
    var stream: Bool
    var includeUsage: Bool

    /// Parses and validates the body; every problem names the field (`param`).
    init(body o: JSONObject, rules: RequestRules) throws(APIError) {
        let fields = GenerationParametersParser(o, rules: rules)
        model = try fields.model(default: rules.defaultModel)
        guard let list = o["messages"]?.array, !list.isEmpty else {
            throw .unprocessable("messages must be a non-empty array", param: "messages")
        }
        messages = try list.enumerated().map { (i, item) throws(APIError) in
            guard let m = item.object, let role = m["role"]?.string,
                  ["system", "user", "assistant", "developer"].contains(role) else {
                throw .unprocessable("messages[\(i)].role must be system, user or assistant", param: "messages")
            }
            guard let content = m["content"]?.string else {
                throw .unprocessable("messages[\(i)].content must be a string", param: "messages")
            }
            return GenerationProtocol.Message(role: role == "developer" ? "system" : role, content: content)
        }
        var p = GenerationProtocol.Parameters(maxTokens: fields.defaultTokens(256), temperature: 1)
        let maxCompletion = try fields.integer("max_completion_tokens", fields.tokenRange)
        let maxTokens = try fields.integer("max_tokens", fields.tokenRange)
        if let t = maxCompletion ?? maxTokens { p.maxTokens = UInt32(t) }
        try fields.sampling(into: &p)
        try fields.requireSingleChoice()
        try Self.checkResponseFormat(o["response_format"])
        parameters = p
        stream = try fields.boolean("stream") ?? false
        includeUsage = try fields.includeUsage()
    }

    /// `response_format`: only `{"type": "text"}` (plain text, the default) is served; JSON modes need
    /// constrained decoding, which the engine does not have.
    static func checkResponseFormat(_ value: JSONValue?) throws(APIError) {
        switch value {
        case nil, .null?: return
        case .object(let f)?:
            guard let type = f["type"]?.string else {
                throw .unprocessable("response_format.type must be a string", param: "response_format")
            }
            guard type == "text" else {
                throw .unprocessable("response_format type \(type.prefix(64)) is not supported; only text is", param: "response_format")
            }
        default: throw .unprocessable("response_format must be an object", param: "response_format")
        }
    }

    /// The generation this request asks batchd for.
    func generate(requestID: String) -> GenerationProtocol.Generate {
        GenerationProtocol.Generate(requestID: requestID, model: model, messages: messages, parameters: parameters)
    }
}
