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
