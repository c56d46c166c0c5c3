/// What `inferctl bench ...` was asked to do.
enum BenchOptions: Equatable {
    /// `bench [flags]`: a run.
    case run(BenchRunOptions)
    /// `bench compare A.json B.json [--json]`: two saved runs side by side.
    case compare(first: String, second: String, json: Bool)

    /// Parses the arguments after `bench`.
    /// - Throws: ``InferctlError`` of kind `.usage`.
    static func parse(_ arguments: [String]) throws(InferctlError) -> BenchOptions {
        guard arguments.first == "compare" else { return .run(try BenchRunOptions.parse(arguments)) }
        let split = try SplitArguments(Array(arguments.dropFirst()), switches: ["--json"], command: "bench compare")
        guard split.positionals.count == 2 else {
            throw .usage("bench compare takes two saved runs: inferctl bench compare A.json B.json (made with bench --out FILE)")
        }
        let json = try FlagReader.read(split.flags, command: "bench compare", switches: ["--json"], into: false) { json, flag in
            guard flag.name == "--json" else { return false }
            json = true
            return true
        }
        return .compare(first: split.positionals[0], second: split.positionals[1], json: json)
    }
}

/// The flags of a bench run.
struct BenchRunOptions: Equatable {
    var client = ClientOptions()
    var generation = GenerationOptions()
    /// `--concurrency N`: requests in flight at once.
    var concurrency = 4
    /// `--duration SEC`: stop sending after this long.
    var duration: Duration?
    /// `--requests N`: send this many.
    var requests: Int?
    /// `--prompts FILE`: one prompt per line (else ``BenchPlan/builtInPrompts``).
    var promptsFile: String?
    /// `--stream`: streamed requests (then time to first token and inter-token latency are measured).
    var stream = false
    /// `--out FILE`: the report as JSON, for `bench compare`.
    var out: String?
    /// `--allow-cache`: let a gateway answer from its response cache (by default every request says
    /// `Cache-Control: no-cache, no-store`, so the model runs each time; servers without a cache ignore it).
    var allowCache = false

    /// The most requests in flight at once.
    static let maxConcurrency = 256
    /// The most requests of one run.
    static let maxRequests = 1_000_000

    /// Parses the flags of a run.
    /// - Throws: ``InferctlError`` of kind `.usage`.
    static func parse(_ arguments: [String]) throws(InferctlError) -> BenchRunOptions {
        let switches = ClientOptions.switches.union(["--stream", "--allow-cache"])
        return try FlagReader.read(arguments, command: "bench", switches: switches, into: BenchRunOptions()) { options, flag throws(InferctlError) in
            if try options.client.take(flag) { return true }
            if try options.generation.take(flag) { return true }
            switch flag.name {
            case "--concurrency": options.concurrency = try count(flag, limit: maxConcurrency)
            case "--requests": options.requests = try count(flag, limit: maxRequests)
            case "--duration": options.duration = try flag.duration(allowZero: false)
            case "--prompts": options.promptsFile = try flag.nonEmpty()
            case "--stream": options.stream = true
            case "--out": options.out = try flag.nonEmpty()
            case "--allow-cache": options.allowCache = true
            default: return false
            }
            return true
        }
    }

    private static func count(_ flag: FlagReader.Flag, limit: Int) throws(InferctlError) -> Int {
        guard let value = Int(flag.value), (1...limit).contains(value) else {
            throw .usage("\(flag.name) \(flag.value): expected an integer between 1 and \(limit)")
        }
        return value
    }
}
