/// What every request parser needs from frontd's settings: the model a body that names none gets
/// (DEFAULT_MODEL) and the most tokens a request may ask for (MAX_TOKENS_LIMIT).
struct RequestRules: Sendable {
    /// The model of a request that names none.
    var defaultModel: String
    /// The largest `max_tokens` / `max_new_tokens` accepted; also caps each route's default.
    var maxTokensLimit: Int
}
