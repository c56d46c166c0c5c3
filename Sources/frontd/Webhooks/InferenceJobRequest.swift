import Foundation
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
    ///   - defaultModel: DEFAULT_MODEL.
    ///   - chatModels: The registry's chat models, or nil when there is no registry to check against.
    static func generate(_ data: [String: Any], requestID: String, defaultModel: String,
                         chatModels: [String]?) throws(APIError) -> GenerationProtocol.Generate {
        var model = defaultModel
        if let m = data["model"], !(m is NSNull) {
            guard let s = m as? String, ModelRegistry.isValidModelName(s) else {
                throw .unprocessable("data.model must be a model name", param: "data.model")
            }
            model = s
        }
        if let chatModels, !chatModels.contains(model) {
            throw .unprocessable("no chat model is named \(model) (models: \(chatModels.joined(separator: ", ")))", param: "data.model")
        }
        var messages: [GenerationProtocol.Message] = []
        var prompt = ""
        switch (data["prompt"], data["messages"]) {
        case (let p?, nil) where !(p is NSNull):
            guard let s = p as? String, !s.isEmpty else { throw .unprocessable("data.prompt must be a non-empty string", param: "data.prompt") }
            prompt = s
        case (nil, let m?) where !(m is NSNull):
            guard let list = m as? [Any], !list.isEmpty else {
                throw .unprocessable("data.messages must be a non-empty array", param: "data.messages")
            }
            messages = try list.enumerated().map { (i, item) throws(APIError) in
                guard let o = item as? [String: Any], let role = o["role"] as? String, ["system", "user", "assistant"].contains(role),
                      let content = o["content"] as? String else {
                    throw .unprocessable("data.messages[\(i)] must be {\"role\": system|user|assistant, \"content\": string}",
                                         param: "data.messages")
                }
                return GenerationProtocol.Message(role: role, content: content)
            }
        default:
            throw .unprocessable("data needs exactly one of prompt (raw text) or messages (chat turns)", param: "data.prompt")
        }
        let parameters = try Self.parameters(data)
        return GenerationProtocol.Generate(requestID: requestID, model: model, messages: messages, prompt: prompt, parameters: parameters)
    }

    private static func parameters(_ data: [String: Any]) throws(APIError) -> GenerationProtocol.Parameters {
        var p = GenerationProtocol.Parameters(maxTokens: defaultMaxTokens, temperature: 1)
        let params: [String: Any]
        switch data["params"] {
        case nil, is NSNull: params = [:]
        case let o as [String: Any]: params = o
        default: throw .unprocessable("data.params must be an object", param: "data.params")
        }
        func number(_ o: [String: Any], _ key: String, _ param: String) throws(APIError) -> Double? {
            guard let v = o[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, !JSON.isBool(n), n.doubleValue.isFinite else {
                throw .unprocessable("\(param) must be a number", param: param)
            }
            return n.doubleValue
        }
        func integer(_ o: [String: Any], _ key: String, _ param: String, _ range: ClosedRange<Double>) throws(APIError) -> Double? {
            guard let d = try number(o, key, param) else { return nil }
            guard d == d.rounded(), range.contains(d) else {
                throw .unprocessable("\(param) must be an integer from \(Int(range.lowerBound)) to \(Int(range.upperBound))", param: param)
            }
            return d
        }
        func ranged(_ key: String, _ range: ClosedRange<Double>) throws(APIError) -> Float? {
            guard let d = try number(params, key, "data.params." + key) else { return nil }
            guard range.contains(d) else {
                throw .unprocessable("data.params.\(key) must be from \(range.lowerBound) to \(range.upperBound)", param: "data.params." + key)
            }
            return Float(d)
        }
        if let t = try integer(data, "max_tokens", "data.max_tokens", 1...4096) { p.maxTokens = UInt32(t) }
        if let t = try integer(params, "max_new_tokens", "data.params.max_new_tokens", 1...4096) { p.maxTokens = UInt32(t) }
        if let t = try ranged("temperature", 0...2) { p.temperature = t }
        if let t = try ranged("top_p", 0...1) {
            guard t > 0 else { throw .unprocessable("data.params.top_p must be greater than 0", param: "data.params.top_p") }
            p.topP = t
        }
        if let k = try integer(params, "top_k", "data.params.top_k", 0...1_000_000) { p.topK = UInt32(k) }
        if let s = try integer(params, "seed", "data.params.seed", -9.007_199_254_740_992e15...9.007_199_254_740_992e15) {
            p.seed = UInt64(bitPattern: Int64(s))
        }
        if let t = try ranged("frequency_penalty", -2...2) { p.frequencyPenalty = t }
        if let t = try ranged("presence_penalty", -2...2) { p.presencePenalty = t }
        switch params["stop"] {
        case nil, is NSNull: break
        case let s as String where !s.isEmpty: p.stop = [s]
        case let a as [Any]:
            let strings = a.compactMap { $0 as? String }
            guard strings.count == a.count, a.count <= 4, !strings.contains(where: \.isEmpty) else {
                throw .unprocessable("data.params.stop must be a string or up to 4 non-empty strings", param: "data.params.stop")
            }
            p.stop = strings
        default:
            throw .unprocessable("data.params.stop must be a string or up to 4 non-empty strings", param: "data.params.stop")
        }
        return p
    }
}
