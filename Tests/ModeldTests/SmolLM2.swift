import Engine
import TestModels

@testable import modeld

/// SmolLM2, loaded once for every test.
enum SmolLM2 {
    static let shared: Result<ChatModel, any Error> = Result { try ChatModel(path: try ModelPaths.smollm2()) }
    static func get() throws -> ChatModel { try shared.get() }

    /// What the engine generates for these tokens alone (greedy): the reference for served outputs.
    static func solo(_ tokens: [Int32], maxTokens: Int) throws -> (text: String, completion: Int, finish: String) {
        let chat = try get()
        let decoder = BatchDecoder(model: chat.model, tokenizer: chat.tokenizer, maxBatch: 1)
        try decoder.add(id: 0, prompt: tokens, parameters: .greedy(maxTokens: maxTokens))
        var text = ""
        var last: BatchDecoder.Event?
        while !decoder.isEmpty {
            for event in try decoder.step() {
                text += event.text
                last = event
            }
        }
        return (text, last?.completionTokens ?? 0, last?.finish?.rawValue ?? "")
    }
}
