/// Error codes the services put in ERROR frames, from `IPCErrorCode.firstServiceCode` (256) up.
/// frontd maps each to an HTTP status.
public enum ServiceErrorCode {
    /// The model named in the request is not served here (HTTP 404).
    public static let unknownModel: UInt16 = 256
    /// The request is well-formed but cannot be run: e.g. the prompt is empty (HTTP 400).
    public static let invalidRequest: UInt16 = 257
    /// A parameter is out of range; the message starts with the parameter's name (HTTP 422).
    public static let invalidParameter: UInt16 = 258
    /// The queue is full; retry later (HTTP 503 with Retry-After).
    public static let queueFull: UInt16 = 259
    /// The model backend failed or is unavailable (HTTP 503).
    public static let backendUnavailable: UInt16 = 260
    /// The prompt does not fit in the model's context (HTTP 400 naming the prompt's field, code
    /// `context_length_exceeded`).
    public static let contextLengthExceeded: UInt16 = 261
    /// The upstream server asked to be left alone for a while (its 429); the message starts with
    /// ``RetryAfterMessage`` when it said how long (HTTP 429 with Retry-After).
    public static let upstreamRateLimited: UInt16 = 262
    /// The upstream server answered with an error or nonsense (5xx, 401/403/404, a broken body): the
    /// gateway's side of the call is wrong, not the client's request (HTTP 502).
    public static let upstreamFailed: UInt16 = 263
    /// The upstream server did not answer in time (HTTP 504).
    public static let upstreamTimeout: UInt16 = 264
    /// The model's process died after batchd had relayed some of the generation, so batchd cannot try
    /// again without repeating text (HTTP 503). frontd sends a non-streamed request again: its client has
    /// seen nothing yet.
    public static let generationInterrupted: UInt16 = 265
}

/// How an ERROR frame's message carries a Retry-After: `retry-after=SECONDS; ` then the words, so
/// batchd (its breaker) and frontd (the header) read the same number.
public enum RetryAfterMessage {
    /// `message` with `seconds` in front.
    public static func make(seconds: Int, _ message: String) -> String {
        "retry-after=\(max(0, seconds)); \(message)"
    }

    /// The seconds and the words of a message made by ``make(seconds:_:)``; nil seconds otherwise.
    public static func parse(_ message: String) -> (seconds: Int?, text: String) {
        guard message.hasPrefix("retry-after="), let end = message.firstIndex(of: ";") else { return (nil, message) }
        let number = message[message.index(message.startIndex, offsetBy: "retry-after=".count)..<end]
        guard let seconds = Int(number), seconds >= 0 else { return (nil, message) }
        let rest = message[message.index(after: end)...].drop { $0 == " " }
        return (seconds, String(rest))
    }
}

/// The socket names and protocol names of the services, in one place.
public enum ServiceName {
    public static let limitd = "infer.limitd"
    public static let cached = "infer.cached"
    public static let batchd = "infer.batchd"
    public static let modeld = "infer.modeld"
    public static let metricsd = "infer.metricsd"
    public static let frontd = "infer.frontd"
    /// Protocol version of every service for now.
    public static let version: UInt16 = 1
}

/// Where a daemon's Unix socket lives when it binds its own: `$INFER_RUNTIME_DIR/<name>.sock`.
public enum ServicePaths {
    /// `INFER_RUNTIME_DIR`, default /run/infer.
    public static func runtimeDirectory(_ environment: [String: String]) -> String {
        let d = environment["INFER_RUNTIME_DIR"] ?? ""
        return d.isEmpty ? "/run/infer" : d
    }

    /// The socket path of daemon `name` (`limitd`, `modeld-smollm2`, ...).
    public static func socket(_ name: String, environment: [String: String]) -> String {
        runtimeDirectory(environment) + "/" + name + ".sock"
    }
}
