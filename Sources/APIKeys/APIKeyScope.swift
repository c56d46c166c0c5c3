/// A permission an API key holds; each route of frontd names the one it needs (frontd's `Access`).
///
/// The raw values are what the keys file and `inferctl keys create --scopes` spell.
public enum APIKeyScope: String, Sendable, CaseIterable, Comparable {
    /// Generation: /v1/infer*, /v1/batch, /v1/chat/completions, /v1/completions, /v1/jobs.
    case infer
    /// Embeddings: /v1/embeddings.
    case embed
    /// Administration: cache and webhook administration, metrics summaries.
    case admin

    /// Declaration order (infer, embed, admin): how scopes are listed in the file and by `inferctl keys list`.
    public static func < (a: APIKeyScope, b: APIKeyScope) -> Bool {
        a.order < b.order
    }

    private var order: Int {
        switch self {
        case .infer: 0
        case .embed: 1
        case .admin: 2
        }
    }

    /// The scopes as the file and the command line spell them: `"infer,embed"`.
    public static func list(_ scopes: some Sequence<APIKeyScope>) -> String {
        scopes.sorted().map(\.rawValue).joined(separator: ",")
    }
}
