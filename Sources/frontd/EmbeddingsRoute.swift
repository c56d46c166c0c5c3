import IPC
import Services

extension Frontend {
    /// Most inputs sent to batchd in one call: the reply must fit in one frame (1 MiB), and 256 MiniLM
    /// vectors (384 float32 each) are about 400 KB, so a request of 2048 inputs takes 8 calls.
    static let embedInputsPerCall = 256
    /// Most input bytes sent to batchd in one call (a call holds at least one input), for the same reason.
    static let embedBytesPerCall = 256 << 10

    /// `POST /v1/embeddings`: OpenAI's embeddings, served by an embedding model through batchd.
    func embeddings(_ c: RequestContext) async throws -> Int {
        let request = try EmbeddingRequest(body: JSONBody.object(c.request))
        try requireModel(request.model, kind: .embedding, for: c)
        // Each input is at most its bytes in tokens (WordPiece: a piece is at least a byte) plus [CLS] and [SEP].
        try await admit(c, AdmissionRequest(route: "/v1/embeddings", model: request.model,
                                            promptTokens: request.inputs.reduce(0) { $0 + $1.utf8.count + 2 }, maxTokens: 0))
        let deadline = ContinuousClock.now + requestTimeout
        var vectors: [[Float]] = []
        var tokens = 0
        for group in Self.embedGroups(request.inputs) {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw APIError.timeout }
            let call = GenerationProtocol.Embed(requestID: c.requestID, model: request.model, inputs: group)
            let reply: GenerationProtocol.EmbedReply
            do {
                reply = try await batch.embed(call, timeout: left)
            } catch IPCError.connectionLost {
                // batchd died with the call (and is restarted behind its socket): an embedding has no partial
                // answer, so it is asked once more within the deadline.
                resends.increment()
                reply = try await batch.embed(call, timeout: ContinuousClock.now.duration(to: deadline))
            }
            guard reply.vectors.count == group.count else {
                throw APIError.unavailable("the model returned \(reply.vectors.count) vectors for \(group.count) inputs")
            }
            vectors += reply.vectors
            tokens += Int(reply.promptTokens)
            if let route = reply.route { c.answeredBy.record(route, requested: request.model) }
        }
        let data = vectors.enumerated().map { item -> JSONValue in
            ["object": "embedding", "index": .int(item.offset), "embedding": request.encode(item.element)]
        }
        var usage: JSONObject = ["prompt_tokens": .int(tokens), "total_tokens": .int(tokens)]
        if let route = c.answeredBy.route, let cost = AnsweringDeployment.cost(route, registry: registry, promptTokens: tokens, completionTokens: 0) {
            usage.set("cost", .double(cost))
        }
        try c.send(.ok, json: ["object": "list", "model": .string(c.answeredBy.model(requested: request.model)), "data": .array(data),
                               "usage": .object(usage)],
                   extra: c.answeredBy.headers(registry: registry, promptTokens: tokens, completionTokens: 0))
        await settle(c, promptTokens: tokens, completionTokens: 0)
        return 200
    }

    /// `inputs` cut into consecutive groups of at most `embedInputsPerCall` inputs and (unless one input
    /// alone is larger) `embedBytesPerCall` bytes.
    static func embedGroups(_ inputs: [String]) -> [[String]] {
        var groups: [[String]] = []
        var group: [String] = []
        var bytes = 0
        for input in inputs {
            let size = input.utf8.count
            if !group.isEmpty && (group.count == embedInputsPerCall || bytes + size > embedBytesPerCall) {
                groups.append(group)
                group = []
                bytes = 0
            }
            group.append(input)
            bytes += size
        }
        if !group.isEmpty { groups.append(group) }
        return groups
    }
}
