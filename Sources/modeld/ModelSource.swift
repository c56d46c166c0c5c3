import Foundation
import Registry

// What a model instance serves is the registry's ModelKind; for the built-in engine the model file
// decides it (a GGUF file: chat; a directory holding model.safetensors: embedding), not a setting.

/// Where a model instance's weights are, and what kind of model they are.
struct ModelSource: Sendable, Equatable {
    /// The model's name as requests name it (`smollm2`).
    let name: String
    /// The GGUF file, or the embedding model's directory.
    let path: String
    let kind: ModelKind

    /// The first bytes of every GGUF file.
    static let ggufMagic: [UInt8] = Array("GGUF".utf8)

    /// Where a model's files are under the models folder when `INFER_MODEL_PATH` does not say: the layout
    /// `scripts/fetch-models.sh` writes.
    static let defaultRelativePaths: [String: String] = [
        "smollm2": "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "minilm": "minilm",
    ]

    /// Finds a model's files and tells their kind.
    /// - Parameters:
    ///   - name: The model's name (`INFER_MODEL`).
    ///   - explicitPath: `INFER_MODEL_PATH`, or nil/empty to derive the path from `modelsDirectory`.
    ///   - modelsDirectory: `INFER_MODELS_DIR`.
    /// - Returns: The source.
    /// - Throws: `ModelSourceError` naming the path and what is wrong with it.
    static func resolve(name: String, explicitPath: String?, modelsDirectory: String) throws(ModelSourceError) -> ModelSource {
        let path: String
        if let explicitPath, !explicitPath.isEmpty {
            path = explicitPath
        } else if let relative = defaultRelativePaths[name] {
            path = (modelsDirectory as NSString).appendingPathComponent(relative)
        } else {
            // An unknown name: a folder or a GGUF file of that name under the models folder.
            let base = (modelsDirectory as NSString).appendingPathComponent(name)
            path = FileManager.default.fileExists(atPath: base + ".gguf") ? base + ".gguf" : base
        }
        return ModelSource(name: name, path: path, kind: try kind(of: path))
    }

    /// Tells a model's kind from its files: a GGUF file is a chat model, a directory with
    /// `model.safetensors` an embedding model.
    /// - Throws: `ModelSourceError` when the path is missing or neither.
    static func kind(of path: String) throws(ModelSourceError) -> ModelKind {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelSourceError("\(path) does not exist")
        }
        if isDirectory.boolValue {
            let weights = (path as NSString).appendingPathComponent("model.safetensors")
            guard FileManager.default.fileExists(atPath: weights) else {
                throw ModelSourceError("\(path) is a directory without model.safetensors (an embedding model's folder holds model.safetensors, config.json and vocab.txt)")
            }
            return .embedding
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ModelSourceError("\(path) cannot be opened for reading")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: ggufMagic.count)) ?? Data()
        guard Array(head) == ggufMagic else {
            throw ModelSourceError("\(path) is neither a GGUF file (it does not start with \"GGUF\") nor a directory with model.safetensors")
        }
        return .chat
    }
}

/// A model's files are missing or of no kind modeld serves.
struct ModelSourceError: Error, CustomStringConvertible, Equatable {
    let description: String
    init(_ description: String) { self.description = description }
}
