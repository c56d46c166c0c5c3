import Foundation
import IPC

/// A validated `POST /v1/chat/completions` body.
struct ChatRequest {
    var model: String
    var messages: [GenerationProtocol.Message]
    var parameters: GenerationProtocol.Parameters
    var stream: Bool
    var includeUsage: Bool

    /// Parses and validates the body; every problem names the field (`param`).
    init(body o: [String: Any], defaultModel: String) throws(APIError) {
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
                throw .unprocessable("messages[\(i)].role must be system, user or assistant", param: "messages")
            }
            guard let content = m["content"] as? String else {
                throw .unprocessable("messages[\(i)].content must be a string", param: "messages")
            }
            return GenerationProtocol.Message(role: role == "developer" ? "system" : role, content: content)
        }
        var p = GenerationProtocol.Parameters(maxTokens: 256, temperature: 1)
        func number(_ key: String) throws(APIError) -> Double? {
            guard let v = o[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, !JSON.isBool(n), n.doubleValue.isFinite else {
                throw .unprocessable("\(key) must be a number", param: key)
            }
            return n.doubleValue
        }
        func integer(_ key: String, _ range: ClosedRange<Int>) throws(APIError) -> Int? {
            guard let d = try number(key) else { return nil }
            guard d == d.rounded(), d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
                throw .unprocessable("\(key) must be an integer between \(range.lowerBound) and \(range.upperBound)", param: key)
            }
            return Int(d)
        }
        func ranged(_ key: String, _ range: ClosedRange<Double>) throws(APIError) -> Float? {
            guard let d = try number(key) else { return nil }
            guard range.contains(d) else { throw .unprocessable("\(key) must be between \(range.lowerBound) and \(range.upperBound)", param: key) }
            return Float(d)
        }
        let maxCompletion = try integer("max_completion_tokens", 1...1_000_000)
        let maxTokens = try integer("max_tokens", 1...1_000_000)
        if let t = maxCompletion ?? maxTokens { p.maxTokens = UInt32(t) }
        if let t = try ranged("temperature", 0...2) { p.temperature = t }
        if let t = try ranged("top_p", 0...1) {
            guard t > 0 else { throw .unprocessable("top_p must be greater than 0", param: "top_p") }
            p.topP = t
        }
        if let t = try ranged("frequency_penalty", -2...2) { p.frequencyPenalty = t }
        if let t = try ranged("presence_penalty", -2...2) { p.presencePenalty = t }
        if let s = try integer("seed", Int(Int64.min / 2)...Int(Int64.max / 2)) { p.seed = UInt64(bitPattern: Int64(s)) }
        if let n = try integer("n", 1...1), n != 1 { throw .unprocessable("only n=1 is supported", param: "n") }
        switch o["stop"] {
        case nil, is NSNull: break
        case let s as String: p.stop = [s]
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
        let options = o["stream_options"] as? [String: Any]
        includeUsage = (options?["include_usage"] as? NSNumber)?.boolValue ?? false
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
