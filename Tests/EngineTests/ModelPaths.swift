import Foundation

/// A model file a test needs is not on this machine.
struct ModelNotFound: Error, CustomStringConvertible {
    let description: String
}

/// Where the test models are: `$INFER_MODELS_DIR`, or the first `models` folder found walking up
/// from this source file (the repository's `models/`, filled by `scripts/fetch-models.sh`).
enum ModelPaths {
    /// Path of SmolLM2-135M-Instruct's Q4_1 GGUF file.
    static func smollm2() throws -> String {
        try locate("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", isDirectory: false)
    }

    /// Path of the all-MiniLM-L6-v2 folder (config.json, vocab.txt, model.safetensors).
    static func minilmDirectory() throws -> String {
        try locate("minilm", isDirectory: true)
    }

    private static func locate(_ relative: String, isDirectory: Bool, file: StaticString = #filePath) throws -> String {
        let fm = FileManager.default
        func exists(_ path: String) -> Bool {
            var dir: ObjCBool = false
            return fm.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue == isDirectory
        }
        var tried: [String] = []
        if let env = ProcessInfo.processInfo.environment["INFER_MODELS_DIR"], !env.isEmpty {
            let candidate = URL(fileURLWithPath: env).appendingPathComponent(relative).path
            if exists(candidate) { return candidate }
            tried.append(candidate)
        }
        var dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
        while dir.path != "/" && !dir.path.isEmpty {
            let candidate = dir.appendingPathComponent("models").appendingPathComponent(relative).path
            if exists(candidate) { return candidate }
            tried.append(candidate)
            dir = dir.deletingLastPathComponent()
        }
        throw ModelNotFound(description: "test model models/\(relative) not found (looked at \(tried.joined(separator: ", "))); run scripts/fetch-models.sh or set INFER_MODELS_DIR to the folder holding smollm2/ and minilm/")
    }
}
