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
        var options = ClientOptions()
        var flags = FlagReader(arguments, command: command, switches: ["--json"])
        while let flag = try flags.next() {
            switch flag.name {
            case "--url": options.url = try flag.nonEmpty()
            case "--metrics-url" where command == "metrics": options.metricsURL = try flag.nonEmpty()
            case "--json": options.json = true
            default: throw flag.unknown()
            }
        }
        return options
    }
}

/// The flags of `inferctl config check`.
struct ConfigOptions: Equatable {
    /// `--env-file FILE`, repeatable (default /etc/infer/infer.env when it exists).
    var environmentFiles: [String] = []
    /// `--registry FILE` (else INFER_MODEL_REGISTRY from the files, else /etc/infer/models.json).
    var registry: String?
    /// `--keys-file FILE` (else API_KEYS_FILE from the files, else /etc/infer/keys.json).
    var keysFile: String?
    /// `--bin-dir DIR`: the daemons' executables (default: inferctl's own directory).
    var binDirectory: String?
    /// `--json`: the checks as a list.
    var json = false

    static func parse(_ arguments: [String]) throws(InferctlError) -> ConfigOptions {
        var options = ConfigOptions()
        var flags = FlagReader(arguments, command: "config check", switches: ["--json"])
        while let flag = try flags.next() {
            switch flag.name {
            case "--env-file": options.environmentFiles.append(try flag.nonEmpty())
            case "--registry": options.registry = try flag.nonEmpty()
            case "--keys-file": options.keysFile = try flag.nonEmpty()
            case "--bin-dir": options.binDirectory = try flag.nonEmpty()
            case "--json": options.json = true
            default: throw flag.unknown()
            }
        }
        return options
    }
}
