import Services

/// Builds CHUNK and END payloads as modeld sends them.
enum Frames {
    static func chunk(_ text: String, _ tokens: UInt32) -> [UInt8] {
        GenerationFrameTag.payload(GenerationProtocol.Chunk(text: text, completionTokens: tokens))
    }

    static func done(_ finish: String = "stop", prompt: UInt32 = 3, completion: UInt32) -> [UInt8] {
        GenerationFrameTag.payload(GenerationProtocol.Done(finishReason: finish, promptTokens: prompt, completionTokens: completion, batchSize: 1))
    }
}
