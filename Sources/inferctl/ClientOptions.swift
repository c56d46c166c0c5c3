/// The flags of the commands that ask a running stack: `health`, `metrics`, `version` (parsed here), and
/// the API's clients `chat`, `complete`, `embed`, `test-api`, `bench`, which also take `--key` and
/// `--timeout` (``take(_:)``, ClientFlags.swift).
struct ClientOptions: Equatable {
    /// `--url URL`: frontd's address (INFER_URL, default http://127.0.0.1:8080; a trailing /v1 is fine).
    var url: String?
    /// `--metrics-url URL`: metricsd's exposition (INFER_METRICS_URL, default http://127.0.0.1:9464/metrics).
    var metricsURL: String?
    /// `--json`: the figures for scripts.
    var json = false
    /// `--key KEY`: the API key (`INFER_API_KEY`); sent as a bearer token, never printed.
    var key: String?
    /// `--timeout SEC`: the longest one request may take, from sending it to its last byte.
    var timeout: Duration?

    static func parse(_ arguments: [String], command: String) throws(InferctlError) -> ClientOptions {
        try FlagReader.read(arguments, command: command, switches: ["--json"], into: ClientOptions()) { options, flag throws(InferctlError) in
            switch flag.name {
            case "--url": options.url = try flag.nonEmpty()
            case "--metrics-url" where command == "metrics": options.metricsURL = try flag.nonEmpty()
            case "--json": options.json = true
            default: return false
            }
            return true
        }
    }
}

/// The flags of `inferctl config check`.
struct ConfigOptions: Equatable {
    /// `--env-file` (default /etc/infer/infer.env when it exists), `--registry` and `--keys-file` (else
    /// INFER_MODEL_REGISTRY and API_KEYS_FILE from the files, else their defaults), `--bin-dir`.
    var files = StackFileOptions()
    /// `--json`: the checks as a list.
    var json = false

    static func parse(_ arguments: [String]) throws(InferctlError) -> ConfigOptions {
        try FlagReader.read(arguments, command: "config check", switches: ["--json"], into: ConfigOptions()) { options, flag throws(InferctlError) in
            if try options.files.take(flag) { return true }
            guard flag.name == "--json" else { return false }
            options.json = true
            return true
        }
    }
}
