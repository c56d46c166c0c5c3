import Settings
/// Why a model registry could not be loaded: the file, and where it can, the entry and the field.
///
/// Its description is the line an operator sees, e.g.
/// `/etc/infer/models.json: model "smollm2" (entry 1), field "kind": expected "chat" or "embedding", got a string ("text")`.
/// A daemon turns it into a ``ConfigError`` with ``configError`` so it exits 78 (EX_CONFIG) and is not
/// restarted in a loop.
public struct ModelRegistryError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Problem: Sendable, Equatable {
        case unreadable(reason: String)
        case malformed(reason: String)
        case document(field: String?, message: String)
        case entry(index: Int, name: String?, field: String?, message: String)
    }

    /// The registry file (as given to ``ModelRegistry/load(path:environment:)``).
    public let file: String
    private let problem: Problem

    private init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    static func unreadable(_ file: String, reason: String) -> ModelRegistryError {
        ModelRegistryError(file: file, problem: .unreadable(reason: reason))
    }

    static func malformed(_ file: String, reason: String) -> ModelRegistryError {
        ModelRegistryError(file: file, problem: .malformed(reason: reason))
    }

    static func document(_ file: String, field: String?, _ message: String) -> ModelRegistryError {
        ModelRegistryError(file: file, problem: .document(field: field, message: message))
    }

    static func entry(
        _ file: String, index: Int, name: String?, field: String?, _ message: String
    ) -> ModelRegistryError {
        ModelRegistryError(file: file, problem: .entry(index: index, name: name, field: field, message: message))
    }

    /// The 1-based position of the entry in `models`, when the problem is in one entry.
    public var entryIndex: Int? {
        if case .entry(let index, _, _, _) = problem { return index }
        return nil
    }

    /// The entry's name, when the problem is in an entry that has a valid one.
    public var entryName: String? {
        if case .entry(_, let name, _, _) = problem { return name }
        return nil
    }

    /// The JSON field that is wrong (`kind`, `fallbacks`, `models`), when the problem is in one field.
    public var field: String? {
        switch problem {
        case .entry(_, _, let field, _), .document(let field, _): field
        case .unreadable, .malformed: nil
        }
    }

    public var description: String {
        switch problem {
        case .unreadable(let reason):
            return "cannot read the model registry \(file): \(reason)"
        case .malformed(let reason):
            return "\(file): not valid JSON: \(reason)"
        case .document(let field, let message):
            return "\(file): " + (field.map { "field \"\($0)\": " } ?? "") + message
        case .entry(let index, let name, let field, let message):
            let entry = name.map { "model \"\($0)\" (entry \(index))" } ?? "entry \(index)"
            return "\(file): \(entry)" + (field.map { ", field \"\($0)\"" } ?? "") + ": \(message)"
        }
    }

    /// The same problem as a ``ConfigError`` about `INFER_MODEL_REGISTRY`: throw it from a daemon's
    /// `start` so the runtime exits 78.
    public var configError: ConfigError {
        ConfigError(description, variable: ModelRegistry.registrySetting.name)
    }
}
