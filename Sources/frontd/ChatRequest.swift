import Foundation
import IPC

/// A validated `POST /v1/chat/completions` body.
struct ChatRequest {
    var model: String
    var messages: [GenerationProtocol.Message]
    var parameters: GenerationProtocol.Parameters
    var stream: Bool
    var includeUsage: Bool

    /// Tokens generated when the request names no `max_tokens` (fewer when the limit is lower).
    static let defaultMaxTokens = 256

    /// Parses and validates the body; every problem names the field (`param`).
    /// - Parameters:
    ///   - o: The body.
    ///   - defaultModel: The model when the body names none.
    ///   - maxTokensLimit: The most tokens a request may ask for (MAX_TOKENS_LIMIT).
    init(body o: [String: Any], defaultModel: String, maxTokensLimit: Int) throws(APIError) {
        if let m = o["model"], !(m is NSNull) {
            guard let s = m as? String, ModelRegistry.isValidModelName(s) else { throw .unprocessable("model must be a model name", param: "model") }
            model = s
        } else {
            model = defaultModel
        }
        guard let list = o["messages"] as? [Any], !list.isEmpty else {
            throw .unprocessable("messages must be a non-empty array", param: "messages")
        }
        messages = try list.enumerated().map { (i, item) throws(APIError) in
            guard let m = item as? [String: Any], let role = m["role"] as? String,
                  ["system", "user", "assistant", "developer"].contains(role) else {
                throw .unprocessable("messages[\(i)].role must be system, developer, user or assistant", param: "messages")
            }
            guard let content = m["content"] as? String else {
                throw .unprocessable("messages[\(i)].content must be a string", param: "messages")
            }
            return GenerationProtocol.Message(role: role == "developer" ? "system" : role, content: content)
        }
        var p = GenerationProtocol.Parameters(maxTokens: UInt32(min(Self.defaultMaxTokens, maxTokensLimit)), temperature: 1)
        func number(_ key: String) throws(APIError) -> Double? {
            guard let v = o[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, !JSON.isBool(n), n.doubleValue.isFinite else {
                throw .unprocessable("\(key) must be a number", param: key)
            }
            return n.doubleValue
        }
        func integer(_ key: String, _ range: ClosedRange<Int64>) throws(APIError) -> Int64? {
            guard let v = o[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, let i = JSONNumber.exactInteger(n), range.contains(i) else {
                throw .unprocessable("\(key) must be an integer between \(range.lowerBound) and \(range.upperBound)", param: key)
            }
            return i
        }
        func ranged(_ key: String, _ range: ClosedRange<Double>) throws(APIError) -> Float? {
            guard let d = try number(key) else { return nil }
            guard range.contains(d) else { throw .unprocessable("\(key) must be between \(range.lowerBound) and \(range.upperBound)", param: key) }
            return Float(d)
        }
        let maxCompletion = try integer("max_completion_tokens", 1...Int64(maxTokensLimit))
        let maxTokens = try integer("max_tokens", 1...Int64(maxTokensLimit))
        if let t = maxCompletion ?? maxTokens { p.maxTokens = UInt32(t) }
        if let t = try ranged("temperature", 0...2) { p.temperature = t }
        if let t = try number("top_p") {
            guard t > 0, t <= 1 else { throw .unprocessable("top_p must be greater than 0 and at most 1", param: "top_p") }
            // A positive top_p below Float's smallest would round to 0, which the engine refuses.
            p.topP = max(Float(t), .leastNonzeroMagnitude)
        }
        if let t = try ranged("frequency_penalty", -2...2) { p.frequencyPenalty = t }
        if let t = try ranged("presence_penalty", -2...2) { p.presencePenalty = t }
        if let s = try integer("seed", Int64.min / 2...Int64.max / 2) { p.seed = UInt64(bitPattern: s) }
        _ = try integer("n", 1...1) // only one choice is generated
        switch o["stop"] {
        case nil, is NSNull: break
        case let s as String:
            guard !s.isEmpty else { throw .unprocessable("stop must not be empty", param: "stop") }
            p.stop = [s]
        case let a as [Any]:
            let strings = a.compactMap { $0 as? String }
            guard strings.count == a.count, a.count <= 4, !strings.contains(where: \.isEmpty) else {
                throw .unprocessable("stop must be a string or an array of up to 4 non-empty strings", param: "stop")
            }
            p.stop = strings
        default: throw .unprocessable("stop must be a string or an array of strings", param: "stop")
        }
        parameters = p
        switch o["stream"] {
        case nil, is NSNull: stream = false
        case let b as NSNumber where JSON.isBool(b): stream = b.boolValue
        default: throw .unprocessable("stream must be a boolean", param: "stream")
        }
        switch o["stream_options"] {
        case nil, is NSNull: includeUsage = false
        case let options as [String: Any]:
            switch options["include_usage"] {
            case nil, is NSNull: includeUsage = false
            case let b as NSNumber where JSON.isBool(b): includeUsage = b.boolValue
            default: throw .unprocessable("stream_options.include_usage must be a boolean", param: "stream_options.include_usage")
            }
        default: throw .unprocessable("stream_options must be an object", param: "stream_options")
        }
        try Self.checkResponseFormat(o["response_format"])
    }

    /// `response_format`: only `{"type": "text"}` (plain text, the default) is served; the JSON modes need
    /// constrained decoding, which the engine does not have.
    static func checkResponseFormat(_ value: Any?) throws(APIError) {
        switch value {
        case nil, is NSNull: return
        case let f as [String: Any]:
            guard let type = f["type"] as? String else {
                throw .unprocessable("response_format.type must be a string", param: "response_format")
            }
            guard type == "text" else {
                throw .unprocessable("response_format type \(type.prefix(64)) is not supported; only text is", param: "response_format")
            }
        default: throw .unprocessable("response_format must be an object", param: "response_format")
        }
    }

    /// Only requests whose output is fully determined are cached: greedy decoding.
    var isDeterministic: Bool { parameters.temperature == 0 }

    /// The exact-match cache key: SHA-256 over the canonical encoding of what determines the output.
    var cacheKey: String {
        var w = WireWriter()
        w.writeString("chat/v1")
        w.writeString(model)
        w.writeArray(messages) { $0.write($1) }
        w.write(parameters)
        return SHA256.hex(w.bytes)
    }
}
