/// The OpenAI routes the client calls, relative to the endpoint's `/v1` base.
enum UpstreamRoute: Sendable {
    case chatCompletions
    case completions
    case embeddings
    case models

    /// The path under the base URL.
    var path: String {
        switch self {
        case .chatCompletions: "chat/completions"
        case .completions: "completions"
        case .embeddings: "embeddings"
        case .models: "models"
        }
    }

    /// The HTTP method: `GET` for the model list, `POST` for the rest.
    var method: String { self == .models ? "GET" : "POST" }

    /// How the route shows in messages: `POST /v1/chat/completions` (never the host).
    var display: String { "\(method) /v1/\(path)" }
}
