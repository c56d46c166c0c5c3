import Tracing

/// OpenTelemetry's GenAI semantic conventions on infer's spans: what was asked (`gen_ai.operation.name`,
/// `gen_ai.request.*`) and what came back (`gen_ai.response.*`, `gen_ai.usage.*`), from the messages every
/// daemon already has, so frontd, batchd and modeld name them the same way.
extension Span {
    /// The operation a Generate is: `chat` for messages, `text_completion` for a raw prompt.
    public static func genAIOperation(_ request: GenerationProtocol.Generate) -> String {
        request.messages.isEmpty ? "text_completion" : "chat"
    }

    /// Records a generation request: operation, model and sampling parameters.
    public func recordRequest(_ request: GenerationProtocol.Generate, model: String? = nil) {
        guard isRecording else { return }
        let p = request.parameters
        set([
            "gen_ai.operation.name": .string(Self.genAIOperation(request)),
            "gen_ai.request.model": .string(model ?? request.model),
            "gen_ai.request.max_tokens": .int(Int(p.maxTokens)),
            "gen_ai.request.temperature": .double(Double(p.temperature)),
            "gen_ai.request.top_p": .double(Double(p.topP)),
        ])
        if let seed = p.seed { set("gen_ai.request.seed", .int(Int64(bitPattern: seed))) }
    }

    /// Records an embedding request.
    public func recordRequest(_ request: GenerationProtocol.Embed, model: String? = nil) {
        set(["gen_ai.operation.name": .string("embeddings"), "gen_ai.request.model": .string(model ?? request.model)])
    }

    /// Records a finished generation: token usage and the finish reason.
    public func recordDone(_ done: GenerationProtocol.Done) {
        set([
            "gen_ai.usage.input_tokens": .int(Int(done.promptTokens)),
            "gen_ai.usage.output_tokens": .int(Int(done.completionTokens)),
            "gen_ai.response.finish_reasons": .strings([done.finishReason]),
        ])
    }
}
