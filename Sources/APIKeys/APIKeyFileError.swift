/// Why a keys file could not be read, accepted or written: the file, and where it can, the entry and
/// the field.
///
/// Its description is the line an operator sees, e.g.
/// `/etc/infer/keys.json: key "ci" (entry 2), field "scopes": unknown scope "inferr"; expected infer, embed or admin`.
public struct APIKeyFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem it is.
    public enum Kind: Sendable, Equatable {
        /// The file does not exist.
        case missing
        /// The file exists but cannot be read (permissions, a directory, too large).
        case unreadable
        /// The file is not valid JSON, or a field is wrong.
        case invalid
        /// The file cannot be written (directory missing or not writable, disk full).
        case unwritable
        /// A change asked of a valid file does not fit it (a name already used, no such key).
        case refused
    }

    /// The keys file.
    public let file: String
    public let kind: Kind
    /// What is wrong, without the file name.
    public let message: String

    public init(_ kind: Kind, file: String, _ message: String) {
        self.kind = kind
        self.file = file
        self.message = message
    }

    static func entry(_ file: String, index: Int, name: String?, field: String?, _ message: String) -> APIKeyFileError {
        let entry = name.map { "key \"\($0)\" (entry \(index))" } ?? "entry \(index)"
        return APIKeyFileError(.invalid, file: file, entry + (field.map { ", field \"\($0)\"" } ?? "") + ": " + message)
    }

    public var description: String {
        switch kind {
        case .missing, .unreadable: "cannot read the API keys file \(file): \(message)"
        case .invalid, .refused: "\(file): \(message)"
        case .unwritable: "cannot write the API keys file \(file): \(message)"
        }
    }
}
