import IPC
import Wire

/// A validated `POST /v1/batch` envelope: up to 64 native requests, each valid or refused on its own.
struct BatchRequest {
    /// Most items in one call.
    static let maxItems = 64

    /// Each item, parsed (with the envelope's `model` and `params` as defaults), or why it was refused.
    var items: [Result<InferRequest, APIError>]

    /// Parses the envelope; a malformed envelope (no `requests` array of 1 to 64, a bad top-level `model`
    /// or `params`) is an error for the whole call, a bad item only for itself.
    init(body o: JSONObject, rules: RequestRules) throws(APIError) {
        guard let list = o["requests"]?.array, (1...Self.maxItems).contains(list.count) else {
            throw .unprocessable("requests must be an array of 1 to \(Self.maxItems) requests", param: "requests")
        }
        var itemRules = rules
        itemRules.defaultModel = try GenerationParametersParser(o, rules: rules).model(default: rules.defaultModel)
        let params = try InferRequest.paramsObject(o["params"], param: "params")
        // Checked once here, so an item's error names the item.
        _ = try InferRequest.parameters(params, prefix: "params.", rules: rules)
        items = list.enumerated().map { i, item in
            let path = "requests[\(i)]."
            guard let fields = item.object else {
                return .failure(.unprocessable("requests[\(i)] must be an object", param: "requests[\(i)]"))
            }
            do throws(APIError) {
                return .success(try InferRequest(body: fields, rules: itemRules, inheritedParams: params, path: path))
            } catch {
                return .failure(error)
            }
        }
    }

    /// The idempotency fingerprint of the whole call: each item's request, or its refusal.
    var fingerprint: String {
        var w = WireWriter()
        for item in items {
            switch item {
            case .success(let r):
                w.writeString(r.fingerprint)
                w.writeString(r.requestID ?? "")
            case .failure(let e):
                w.writeString("invalid:" + e.message)
            }
        }
        return IdempotencyKey.fingerprint(route: "/v1/batch", w.bytes)
    }
}
