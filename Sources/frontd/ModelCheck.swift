import HTTP
import IPC
import Registry

extension Frontend {
    /// Refuses, before anything is queued, a model the registry does not list (404 `model_not_found`)
    /// or lists with another kind (404 `wrong_model_kind`: there is no such model for this route, as
    /// OpenAI answers a chat request for an embedding model), both naming `param` "model". Without a
    /// registry (frontd could not read it) batchd is left to decide.
    func requireModel(_ name: String, kind: ModelKind) throws(APIError) {
        guard let registry else { return }
        guard let entry = registry[name] else {
            throw .notFound("model \(name) is not served (known: \(registry.names.sorted().joined(separator: ", ")))",
                            code: "model_not_found", param: "model")
        }
        guard entry.kind == kind else {
            func described(_ k: ModelKind) -> String { k == .chat ? "a chat model" : "an embedding model" }
            throw APIError(status: .notFound, message: "model \(name) is \(described(entry.kind)); this route needs \(described(kind))",
                           type: "invalid_request_error", code: "wrong_model_kind", param: "model")
        }
    }
}
