import IPC

extension Frontend {
    /// `GET /v1/models`: the registry's models in OpenAI's list shape; for a key restricted to some models
    /// (`inferctl keys create --models`), only those.
    func models(_ c: RequestContext) throws -> Int {
        let data = visibleModels(c, modelNames).map { name -> JSONValue in ["id": .string(name), "object": "model", "created": 0, "owned_by": "infer"] }
        try c.send(.ok, json: ["object": "list", "data": .array(data)])
        return 200
    }
}
