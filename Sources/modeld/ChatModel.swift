import Engine
import IPC
import Services

/// A chat model loaded for serving: weights, tokenizer and chat template, all from one GGUF file.
final class ChatModel: Sendable {
    let model: LlamaModel
    let tokenizer: BPETokenizer
    let template: ChatTemplate

    /// Loads a GGUF file.
    /// - Parameter path: The file.
    /// - Throws: The engine's errors, naming what is wrong with the file.
    convenience init(path: String) throws {
        let gguf = try GGUFFile(path: path)
        try self.init(model: LlamaModel(gguf: gguf), tokenizer: BPETokenizer(gguf: gguf), template: ChatTemplate(gguf: gguf))
    }

    init(model: LlamaModel, tokenizer: BPETokenizer, template: ChatTemplate) {
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
    }

    /// Tokens the model can hold: prompt and completion together.
    var contextLength: Int { model.config.contextLength }

    /// The text the model is given: the chat rendered with the template (its default system prompt
    /// when the chat has no system message, then the opening of the assistant's turn), or the raw prompt
    /// when there are no messages.
    func promptText(messages: [GenerationProtocol.Message], prompt: String) -> String {
        if messages.isEmpty { return prompt }
        return template.render(messages.map { ChatMessage(role: $0.role, content: $0.content) })
    }

    /// The prompt's tokens. Special tokens written in the text are parsed, as Hugging Face's
    /// `apply_chat_template` + `encode` does, so that a rendered chat tokenizes as the model was trained.
    func promptTokens(messages: [GenerationProtocol.Message], prompt: String) -> [Int32] {
        tokenizer.encode(promptText(messages: messages, prompt: prompt), parseSpecial: true)
    }

    /// Checks a request and turns it into what the engine runs.
    /// - Returns: The prompt's tokens and the engine's parameters.
    /// - Throws: `RequestError` with ``ServiceErrorCode/invalidParameter`` (message starting with the API's
    ///   parameter name), ``ServiceErrorCode/invalidRequest`` (empty prompt) or
    ///   ``ServiceErrorCode/contextLengthExceeded`` (prompt longer than the context).
    func prepare(_ request: GenerationProtocol.Generate) throws(RequestError) -> (prompt: [Int32], parameters: GenerationParameters) {
        let parameters = GenerationParameters(request.parameters)
        do {
            try parameters.validate()
        } catch {
            throw RequestError(code: ServiceErrorCode.invalidParameter, message: "\(error)")
        }
        if let role = request.messages.first(where: { $0.role.isEmpty })?.role {
            throw RequestError(code: ServiceErrorCode.invalidParameter, message: "messages role \"\(role)\" is empty")
        }
        let tokens = promptTokens(messages: request.messages, prompt: request.prompt)
        guard !tokens.isEmpty else {
            throw RequestError(code: ServiceErrorCode.invalidRequest, message: "prompt is empty")
        }
        // One token of room at least: the prompt plus the first generated token must fit.
        guard tokens.count < contextLength else {
            throw RequestError(
                code: ServiceErrorCode.contextLengthExceeded,
                message: "prompt has \(tokens.count) tokens; the model's context is \(contextLength)")
        }
        return (tokens, parameters)
    }
}

extension GenerationParameters {
    /// The engine's parameters for the wire's (which are unsigned where the API is; out-of-range values
    /// are left for `validate()` to name).
    init(_ wire: GenerationProtocol.Parameters) {
        self.init(
            temperature: wire.temperature, topP: wire.topP, topK: Int(wire.topK), seed: wire.seed,
            frequencyPenalty: wire.frequencyPenalty, presencePenalty: wire.presencePenalty,
            maxTokens: Int(wire.maxTokens), stop: wire.stop)
    }
}

/// A request modeld refuses, with the service error code to answer it with.
struct RequestError: Error, CustomStringConvertible, Equatable {
    let code: UInt16
    let message: String
    var description: String { message }
}
