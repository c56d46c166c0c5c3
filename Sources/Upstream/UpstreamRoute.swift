import Foundation

/// The routes the client calls: the OpenAI ones, relative to the endpoint's `/v1` base, and any other
/// route of the same server by its absolute path (``UpstreamClient/call(_:path:body:accept:options:)``).
enum UpstreamRoute: Sendable, Equatable {
    case chatCompletions
    case completions
    case embeddings
    case models
    /// Any route of the server: `method`, the absolute `path` as given (`/health`, `/v1/infer`), and the
    /// URL it resolved to under the server's root.
    case other(method: String, path: String, url: URL)

    /// The path under the base URL.
    var path: String {
        switch self {
        case .chatCompletions: "chat/completions"
        case .completions: "completions"
        case .embeddings: "embeddings"
        case .models: "models"
        case .other(_, let path, _): path
        }
    }

    /// The HTTP method: `GET` for the model list, `POST` for the OpenAI calls, the given one otherwise.
    var method: String {
        switch self {
        case .models: "GET"
        case .other(let method, _, _): method
        default: "POST"
        }
    }

    /// How the route shows in messages: `POST /v1/chat/completions` (never the host).
    var display: String {
        if case .other(let method, let path, _) = self { return "\(method) \(path)" }
        return "\(method) /v1/\(path)"
    }
}
