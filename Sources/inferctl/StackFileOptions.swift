/// The flags naming a stack's files, which `inferctl up` runs with and `inferctl config check` checks:
/// nil (or no file) means "from the environment, else the default".
struct StackFileOptions: Equatable {
    /// `--bin-dir DIR`: where the daemons' executables are (default: inferctl's own directory).
    var binDirectory: String?
    /// `--registry FILE`: the model registry (`INFER_MODEL_REGISTRY`, default /etc/infer/models.json).
    var registry: String?
    /// `--env-file FILE`, repeatable: environment files of KEY=VALUE lines, later files win.
    var environmentFiles: [String] = []
    /// `--keys-file FILE`: the API keys file frontd reads (`API_KEYS_FILE`, default /etc/infer/keys.json).
    var keysFile: String?

    /// Takes one of these flags.
    /// - Returns: false when the flag is not one of them (the command's own flags are looked at next).
    /// - Throws: ``InferctlError`` of kind `.usage` for an empty value.
    mutating func take(_ flag: FlagReader.Flag) throws(InferctlError) -> Bool {
        switch flag.name {
        case "--bin-dir": binDirectory = try flag.nonEmpty()
        case "--registry": registry = try flag.nonEmpty()
        case "--env-file": environmentFiles.append(try flag.nonEmpty())
        case "--keys-file": keysFile = try flag.nonEmpty()
        default: return false
        }
        return true
    }
}
