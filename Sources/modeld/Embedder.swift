/// A sentence-embedding model as modeld uses it. The built-in one is the engine's `BertEmbedder`
/// (all-MiniLM-L6-v2), whose API this mirrors; tests use stand-ins.
import Engine

protocol Embedder: Sendable {
    /// Embeds a batch of texts in one pass.
    /// - Parameter texts: The texts, any number.
    /// - Returns: One vector per text, in order.
    /// - Throws: When the model cannot run them.
    func embed(_ texts: [String]) throws -> [[Float]]

    /// The tokens the model sees for `text` (after truncation, special tokens included), for usage.
    func tokenCount(_ text: String) -> Int
}

/// Opens an embedding model's directory.
enum EmbedderLoader {
    /// Loads the embedding model in `directory`.
    ///
    /// - Parameter directory: The folder with `model.safetensors`, `config.json` and `vocab.txt`.
    /// - Returns: The embedder.
    /// - Throws: `ModelSourceError` when it cannot be loaded.
    static func load(directory: String) throws -> any Embedder {
        do {
            return try BertEmbedder(directory: directory)
        } catch {
            throw ModelSourceError("cannot load the embedding model in \(directory): \(error)")
        }
    }
}

extension BertEmbedder: Embedder {}
