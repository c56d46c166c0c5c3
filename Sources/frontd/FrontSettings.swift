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
    static let corsOrigins = Setting<CORSPolicy>(
        name: "CORS_ORIGINS", default: .off,
        meaning: "Browser origins allowed to call the API: exact origins (https://app.example.com), comma-separated, or * for any; empty turns CORS off.",
        expected: CORSPolicy.expected, describeDefault: { _ in "" }, parse: CORSPolicy.parse)
    static let headerTimeout = Setting<Duration>(
        name: "HTTP_HEADER_TIMEOUT_SEC", default: .seconds(10),
        meaning: "Time a client has from a request's first byte to the end of its headers (beyond: 408 and close); a new connection that sends nothing is closed after it too.",
        unit: .seconds, range: .milliseconds(100)...(.seconds(600)))
    static let bodyTimeout = Setting<Duration>(
        name: "HTTP_BODY_TIMEOUT_SEC", default: .seconds(30),
        meaning: "Time a client has from the end of its headers to the end of its body; beyond: 408 and close.",
        unit: .seconds, range: .milliseconds(100)...(.seconds(600)))
    static let idleTimeout = Setting<Duration>(
        name: "HTTP_IDLE_TIMEOUT_SEC", default: .seconds(60),
        meaning: "Time a kept-alive connection may wait for its next request before it is closed.",
        unit: .seconds, range: .milliseconds(100)...(.seconds(3600)))

    static let table: [AnySetting] = [limitdFailOpen, requestTimeout, dependencyTimeout, defaultModel, maxBody,
                                      corsOrigins, headerTimeout, bodyTimeout, idleTimeout]
}
