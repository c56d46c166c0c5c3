import HTTP
import IPC
import Registry

extension Frontend {
    /// Refuses, before anything is looked up or queued, a model the caller's key may not use (403
    /// `model_not_allowed`, ``requireAllowed(_:model:param:)``), then a model the registry does not list
    /// (404 `model_not_found`) or lists with another kind (404 `wrong_model_kind`: there is no such model
    /// for this route, as OpenAI answers a chat request for an embedding model), all naming `param`
    /// "model". Without a registry (frontd could not read it) batchd is left to decide the model.
    func requireModel(_ name: String, kind: ModelKind, for c: RequestContext) throws(APIError) {
        try requireAllowed(c, model: name)
        guard let registry else { return }
        guard let entry = registry[name] else {
            throw .notFound("model \(name) is not served (known: \(visibleModels(c, registry.names).sorted().joined(separator: ", ")))",
                            code: "model_not_found", param: "model")
        }
        guard entry.kind == kind else {
            func described(_ k: ModelKind) -> String { k == .chat ? "a chat model" : "an embedding model" }
            throw APIError(status: .notFound, message: "model \(name) is \(described(entry.kind)); this route needs \(described(kind))",
                           type: "invalid_request_error", code: "wrong_model_kind", param: "model")
        }
    }

    /// Refuses a model outside the caller's key's allow-list (`inferctl keys create --models`): 403
    /// `model_not_allowed`. A 403 rather than a 404 because the key is valid and only lacks this
    /// permission: the tenant learns what to ask its operator for. It is checked before the registry,
    /// so a restricted key gets the same 403 whether the model exists or not (no oracle for the names
    /// of models it may not use), and before the cache, idempotency records and admission, so neither
    /// a cached answer nor a replay of that model reaches it.
    /// - Parameter param: The body field that names the model (`requests[2].model` in a batch).
    func requireAllowed(_ c: RequestContext, model: String, param: String = "model") throws(APIError) {
        guard let principal = c.principal, !principal.models.isEmpty, !principal.models.contains(model) else { return }
        throw APIError(status: .forbidden,
                       message: "this API key may not use the model \(model.prefix(128)); it may use \(principal.models.joined(separator: ", "))",
                       type: "permission_error", code: "model_not_allowed", param: param)
    }

    /// The names of `names` the caller's key may use: all of them without an allow-list (or without a key).
    func visibleModels(_ c: RequestContext, _ names: [String]) -> [String] {
        guard let allowed = c.principal?.models, !allowed.isEmpty else { return names }
        return names.filter { allowed.contains($0) }
    }
}
