import Foundation

/// A model file a test needs is not on this machine.
public struct ModelNotFound: Error, CustomStringConvertible {
    public let description: String
}

/// Where the test models are: under `$INFER_MODELS_DIR`, else in the first `models/` folder found walking
/// up from this source file (the repository's `models/`, filled by `scripts/fetch-models.sh`; a worktree
/// may link it to another checkout's).
public enum ModelPaths {
    /// SmolLM2-135M-Instruct's Q4_1 GGUF file, relative to the models folder (the registry's `path`).
    public static let smollm2Relative = "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

    /// all-MiniLM-L6-v2's folder (config.json, vocab.txt, model.safetensors), relative to the models folder.
    public static let minilmRelative = "minilm"

    /// The path of SmolLM2-135M-Instruct's Q4_1 GGUF file.
    /// - Throws: ``ModelNotFound`` naming every place looked at.
    public static func smollm2() throws -> String {
        try directory() + "/" + smollm2Relative
    }

    /// The path of the all-MiniLM-L6-v2 folder.
    /// - Throws: ``ModelNotFound`` naming every place looked at.
    public static func minilmDirectory() throws -> String {
        try locate(minilmRelative + "/model.safetensors") + "/" + minilmRelative
    }

    /// The models folder (what `INFER_MODELS_DIR` names for a daemon): the first that holds SmolLM2.
    /// - Throws: ``ModelNotFound`` naming every place looked at.
    public static func directory() throws -> String {
        try locate(smollm2Relative)
    }

    /// The first models folder holding `relative` (a file).
    private static func locate(_ relative: String) throws -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["INFER_MODELS_DIR"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env).standardizedFileURL.path)
        }
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" && !directory.path.isEmpty {
            candidates.append(directory.appendingPathComponent("models").path)
            directory = directory.deletingLastPathComponent()
        }
        var isDirectory: ObjCBool = false
        if let found = candidates.first(where: {
            FileManager.default.fileExists(atPath: $0 + "/" + relative, isDirectory: &isDirectory) && !isDirectory.boolValue
        }) {
            return found
        }
        throw ModelNotFound(description: "test model models/\(relative) not found (looked in \(candidates.joined(separator: ", "))); "
            + "run scripts/fetch-models.sh or set INFER_MODELS_DIR to the folder holding smollm2/ and minilm/")
    }
}
