import IPC
import Registry
import Services

/// Reads the sampling parameters every generating route shares out of a JSON object: OpenAI's routes
/// read them from the body itself, the native routes from its `params` object. Every problem is a 422
/// naming the field as the client wrote it (`temperature`, `params.temperature`, `requests[2].params.top_p`).
struct GenerationParametersParser {
    let fields: JSONObject
    /// Prepended to a field's name in errors: "" for a body's own fields, "params." for a `params` object.
    let prefix: String
    /// MAX_TOKENS_LIMIT: the most tokens a request may ask for.
    let maxTokensLimit: Int

    init(_ fields: JSONObject, prefix: String = "", rules: RequestRules) {
        self.fields = fields
        self.prefix = prefix
        self.maxTokensLimit = rules.maxTokensLimit
    }

    /// The token-count range every route accepts.
    var tokenRange: ClosedRange<Int> { 1...maxTokensLimit }
    /// A route's default token count, capped by the limit.
    func defaultTokens(_ d: UInt32) -> UInt32 { min(d, UInt32(maxTokensLimit)) }

    /// The name a client sees in `param`.
    func name(_ key: String) -> String { prefix + key }

    /// A number, or nil when absent or null; booleans and non-finite values are refused.
    func number(_ key: String) throws(APIError) -> Double? {
        guard let v = fields.present(key) else { return nil }
        guard case .number(let n) = v else {
            throw .unprocessable("\(name(key)) must be a number", param: name(key))
        }
        return n.double
    }

    /// An integer within `range`, or nil when absent or null.
    func integer(_ key: String, _ range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let v = fields.present(key) else { return nil }
        guard case .number(let n) = v, let i = n.exactInteger, range.contains(Int(i)) else {
            throw .unprocessable("\(name(key)) must be an integer between \(range.lowerBound) and \(range.upperBound)", param: name(key))
        }
        return Int(i)
    }

    /// `stream_options.include_usage`; 422 when stream_options is not an object or include_usage not a boolean.
    func includeUsage() throws(APIError) -> Bool {
        switch fields["stream_options"] {
        case nil, .null?: return false
        case .object(let options)?:
            switch options["include_usage"] {
            case nil, .null?: return false
            case .bool(let b)?: return b
            default: throw .unprocessable("stream_options.include_usage must be a boolean", param: "stream_options.include_usage")
            }
        default: throw .unprocessable("stream_options must be an object", param: "stream_options")
        }
    }

    /// A number within `range`, or nil when absent or null.
    func ranged(_ key: String, _ range: ClosedRange<Double>) throws(APIError) -> Float? {
        guard let d = try number(key) else { return nil }
        guard range.contains(d) else {
            throw .unprocessable("\(name(key)) must be between \(range.lowerBound) and \(range.upperBound)", param: name(key))
        }
        return Float(d)
    }

    /// A boolean, or nil when absent or null.
    func boolean(_ key: String) throws(APIError) -> Bool? {
        switch fields[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw .unprocessable("\(name(key)) must be a boolean", param: name(key))
        }
    }

    /// Reads the fields every route shares into `p`: `temperature` (0...2), `top_p` (0, 1],
    /// `frequency_penalty` and `presence_penalty` (-2...2), `seed` (an integer) and `stop` (a string or up
    /// to 4 non-empty strings). Fields that are absent keep `p`'s values.
    func sampling(into p: inout GenerationProtocol.Parameters) throws(APIError) {
        if let t = try ranged("temperature", 0...2) { p.temperature = t }
        if let t = try number("top_p") {
            guard t > 0, t <= 1 else { throw .unprocessable("\(name("top_p")) must be greater than 0 and at most 1", param: name("top_p")) }
            p.topP = max(Float(t), .leastNonzeroMagnitude)
        }
        if let t = try ranged("frequency_penalty", -2...2) { p.frequencyPenalty = t }
        if let t = try ranged("presence_penalty", -2...2) { p.presencePenalty = t }
        // JSON numbers arrive as doubles: beyond 2^53 an integer seed would not be the one the client wrote.
        if let s = try integer("seed", Int(Int64.min / 2)...Int(Int64.max / 2)) { p.seed = UInt64(bitPattern: Int64(s)) }
        if let stop = try stop() { p.stop = stop }
    }

    /// `stop`: a string or an array of up to 4 non-empty strings; nil when absent or null.
    func stop() throws(APIError) -> [String]? {
        switch fields["stop"] {
        case nil, .null?: return nil
        case .string(let s)?:
            guard !s.isEmpty else { throw .unprocessable("\(name("stop")) must not be empty", param: name("stop")) }
            return [s]
        case .array(let a)?:
            let strings = a.compactMap(\.string)
            guard strings.count == a.count, a.count <= 4, !strings.contains(where: \.isEmpty) else {
                throw .unprocessable("\(name("stop")) must be a string or an array of up to 4 non-empty strings", param: name("stop"))
            }
            return strings
        default: throw .unprocessable("\(name("stop")) must be a string or an array of strings", param: name("stop"))
        }
    }

    /// `n`: only 1 is served (absent or null is 1).
    func requireSingleChoice() throws(APIError) {
        guard let n = try number("n") else { return }
        guard n == 1 else { throw .unprocessable("only \(name("n"))=1 is supported", param: name("n")) }
    }

    /// A `model` field: a valid model name, or `defaultModel` when absent or null.
    func model(default defaultModel: String) throws(APIError) -> String {
        guard let m = fields.present("model") else { return defaultModel }
        guard let s = m.string, ModelRegistry.isValidModelName(s) else {
            throw .unprocessable("\(name("model")) must be a model name", param: name("model"))
        }
        return s
    }
}
