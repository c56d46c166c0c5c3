import IPC

/// frontd's settings, each defined once with its default and meaning.
enum FrontSettings {
    static let limitdFailOpen = Setting<Bool>(
        name: "LIMITD_FAIL_OPEN", default: true,
        meaning: "When limitd cannot be reached: true admits the request (logged), false answers 503.")
    static let requestTimeout = Setting<Duration>(
        name: "REQUEST_TIMEOUT_SEC", default: .seconds(120),
        meaning: "Longest a generation may take end to end before frontd answers 504.",
        unit: .seconds, range: .seconds(1)...(.seconds(3600)))
    static let dependencyTimeout = Setting<Duration>(
        name: "DEPENDENCY_TIMEOUT_MS", default: .milliseconds(250),
        meaning: "How long frontd waits for limitd or cached before applying their down policy.",
        unit: .milliseconds, range: .milliseconds(5)...(.seconds(10)))
    static let defaultModel = Setting<String>(
        name: "DEFAULT_MODEL", default: "smollm2",
        meaning: "Model used when a request names none.",
        expected: "a model name", isValid: { ModelRegistry.isValidModelName($0) })
    static let maxBody = Setting<Int>(
        name: "MAX_BODY_BYTES", default: 1 << 20, meaning: "Largest request body accepted (413 beyond).",
        range: 1024...(64 << 20))
    static let maxTokensLimit = Setting<Int>(
        name: "MAX_TOKENS_LIMIT", default: 4096,
        meaning: "Most tokens a request may ask to generate (max_tokens, max_completion_tokens, max_new_tokens: 422 beyond); "
            + "a request naming none gets its route's default, or this limit when lower.",
        range: 1...1_000_000)

    static let table: [AnySetting] = [limitdFailOpen, requestTimeout, dependencyTimeout, defaultModel, maxBody, maxTokensLimit]
}
