import IPC

extension Frontend {
    /// `GET /v1/models`: the registry's models in OpenAI's list shape; for a key restricted to some models
    /// (`inferctl keys create --models`), only those.
    func models(_ c: RequestContext) throws -> Int {
        let data = visibleModels(c, modelNames).map { ["id": $0, "object": "model", "created": 0, "owned_by": "infer"] as [String: Any] }
        try c.send(.ok, json: ["object": "list", "data": data])
        return 200
    }
}
