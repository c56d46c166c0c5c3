import Foundation
import IPC

extension Frontend {
    /// `POST /v1/embeddings`: OpenAI's embeddings, served by an embedding model through batchd.
    func embeddings(_ c: RequestContext) async throws -> Int {
        let o = try JSONBody.object(c.request)
        let inputs: [String]
        switch o["input"] {
        case let s as String: inputs = [s]
        case let a as [Any] where !a.isEmpty && a.count <= 2048 && a.allSatisfy({ $0 is String }): inputs = a.compactMap { $0 as? String }
        default: throw APIError.unprocessable("input must be a string or a non-empty array of up to 2048 strings", param: "input")
        }
        let model = (o["model"] as? String) ?? "minilm"
        try await admit(c, route: "/v1/embeddings")
        let reply = try await batch.embed(GenerationProtocol.Embed(requestID: c.requestID, model: model, inputs: inputs), timeout: requestTimeout)
        let data = reply.vectors.enumerated().map { ["object": "embedding", "index": $0.offset, "embedding": $0.element.map(Double.init)] as [String: Any] }
        let tokens = Int(reply.promptTokens)
        try c.send(.ok, json: ["object": "list", "model": model, "data": data, "usage": ["prompt_tokens": tokens, "total_tokens": tokens]])
        await settle(c, promptTokens: tokens, completionTokens: 0)
        return 200
    }
}
