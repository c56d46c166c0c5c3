import Basics
import FoundationEssentials
import Glibc
import Settings

/// The models a deployment serves, read from a JSON file (`INFER_MODEL_REGISTRY`, default
/// `/etc/infer/models.json`):
///
/// ```json
/// {
///   "models": [
///     {"name": "smollm2", "kind": "chat", "engine": "builtin",
///      "path": "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "fallbacks": ["gpt4o-mini"]},
///     {"name": "gpt4o-mini", "kind": "chat", "engine": "openai", "url": "https://api.openai.com/v1",
///      "upstream_model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY",
///      "price_input_per_1m": 0.15, "price_output_per_1m": 0.6, "max_concurrency": 16},
///     {"name": "minilm", "kind": "embedding", "engine": "builtin", "path": "minilm"}
///   ]
/// }
/// ```
///
/// Every field is checked when the file is loaded, and an error names the entry and the field
/// (``ModelRegistryError``); unknown fields are errors too, so a misspelt price is not silently zero.
/// `inferctl up` starts one modeld per deployment; modeld finds its own with `INFER_MODEL`; batchd reads
/// prices, fallbacks and concurrency limits; frontd lists the entries on `/v1/models`.
public struct ModelRegistry: Sendable, Equatable {
    /// The entries in file order.
    public let models: [ModelEntry]
    /// The file they were read from.
    public let source: String

    /// `INFER_MODEL_REGISTRY`: the registry file; add it to a daemon's settings table.
    public static let registrySetting = Setting<String>(
        name: "INFER_MODEL_REGISTRY", default: "/etc/infer/models.json",
        meaning: "Model registry: the JSON file naming each model, its engine, file or URL, prices and fallbacks.",
        path: .absolute)

    /// `INFER_MODELS_DIR`: where relative model paths of the registry point; add it to a daemon's table.
    public static let modelsDirectorySetting = Setting<String>(
        name: "INFER_MODELS_DIR", default: "",
        meaning: "Directory that relative model paths in the registry are resolved against "
            + "(unset: the registry file's directory).",
        path: .absolute)

    /// Makes a registry from entries that are already valid (tests, tools).
    /// - Parameters:
    ///   - models: The entries.
    ///   - source: Where they came from, for messages.
    public init(models: [ModelEntry], source: String = "(built in code)") {
        self.models = models
        self.source = source
    }

    /// The entry of a name.
    /// - Parameter name: The model's name.
    /// - Returns: The entry, or nil when the registry has no such model.
    public subscript(name: String) -> ModelEntry? {
        models.first { $0.name == name }
    }

    /// The names in file order.
    public var names: [String] { models.map(\.name) }

    /// Every deployment of every model, in file order: one modeld instance each.
    public var deployments: [Deployment] { models.flatMap(\.deployments) }

    /// The deployment of a name (modeld's `INFER_MODEL`).
    /// - Parameter name: The deployment's name.
    /// - Returns: The deployment and its model, or nil when no deployment has that name.
    public func deployment(named name: String) -> (deployment: Deployment, model: ModelEntry)? {
        for model in models {
            if let deployment = model.deployments.first(where: { $0.name == name }) { return (deployment, model) }
        }
        return nil
    }

    /// The entries of one kind, in file order.
    /// - Parameter kind: Chat or embedding.
    /// - Returns: The entries.
    public func models(of kind: ModelKind) -> [ModelEntry] {
        models.filter { $0.kind == kind }
    }

    /// The models to try for a request to `name`, in order: the model itself, then its fallbacks, then
    /// theirs (breadth first), each once, so mutual fallbacks cannot loop.
    /// - Parameter name: The model asked for.
    /// - Returns: The chain; empty when the registry has no such model.
    public func fallbackChain(for name: String) -> [ModelEntry] {
        guard let first = self[name] else { return [] }
        var chain = [first]
        var seen: Set<String> = [name]
        var index = 0
        while index < chain.count {
            for next in chain[index].fallbacks where !seen.contains(next) {
                seen.insert(next)
                if let entry = self[next] { chain.append(entry) }
            }
            index += 1
        }
        return chain
    }

    /// Reads and checks a registry file.
    /// - Parameters:
    ///   - path: The file; a relative path is taken from the current directory.
    ///   - environment: Where `INFER_MODELS_DIR` is read (relative model paths are resolved against it, or
    ///     against the registry file's directory when it is unset or empty).
    /// - Returns: The registry.
    /// - Throws: ``ModelRegistryError`` naming the file, and the entry and field when one is wrong.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ModelRegistryError) -> ModelRegistry {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = ((error as? CocoaError)?.underlying as? POSIXError).map { String(cString: strerror($0.code.rawValue)) }
                ?? (FileManager.default.fileExists(atPath: path) ? "permission denied or not a file" : "no such file")
            throw .unreadable(path, reason: reason)
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let registryDirectory = absolute.lastIndex(of: "/").map { $0 == absolute.startIndex ? "/" : String(absolute[..<$0]) } ?? absolute
        let modelsDirectory = environment[modelsDirectorySetting.name]
            .map { $0.trimmingWhitespace() }
            .flatMap { $0.isEmpty ? nil : $0 }
        return try parse(data, source: path, baseDirectory: modelsDirectory ?? registryDirectory)
    }

    /// Reads the registry a daemon is configured with: `INFER_MODEL_REGISTRY` (or its default) and
    /// `INFER_MODELS_DIR` from `environment`.
    /// - Parameter environment: The daemon's environment.
    /// - Returns: The registry.
    /// - Throws: ``ConfigError`` (exit 78 from a daemon's `start`), naming the file, entry and field.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> ModelRegistry {
        let path = try registrySetting.parse(environment[registrySetting.name] ?? "")
        do {
            return try load(path: path, environment: environment)
        } catch {
            throw error.configError
        }
    }

    /// The registry for daemons that can run without one (modeld, batchd): the file
    /// `INFER_MODEL_REGISTRY` names, or the default file if it exists, or nil when the variable is unset
    /// and there is no default file.
    /// - Parameter environment: The daemon's environment.
    /// - Returns: The registry, or nil.
    /// - Throws: ``ConfigError`` when a named or existing file is unreadable or wrong.
    public static func loadIfConfigured(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> ModelRegistry? {
        let named = environment[registrySetting.name].map { $0.trimmingWhitespace() } ?? ""
        if named.isEmpty && !FileManager.default.fileExists(atPath: registrySetting.defaultValue) { return nil }
        return try load(environment: environment)
    }

    /// Checks a registry document.
    /// - Parameters:
    ///   - data: The JSON text.
    ///   - source: The file name used in errors.
    ///   - baseDirectory: The directory relative model paths are resolved against.
    /// - Returns: The registry.
    /// - Throws: ``ModelRegistryError`` naming the entry and the field.
    public static func parse(_ data: Data, source: String, baseDirectory: String) throws(ModelRegistryError) -> ModelRegistry {
        let document: JSONTree
        do throws(JSONTree.SyntaxError) {
            document = try JSONTree.parse(data)
        } catch {
            throw .malformed(source, reason: error.reason)
        }
        guard case .object(let top) = document else {
            throw .document(source, field: nil, "expected an object {\"models\": [...]}, got \(document.kindDescription)")
        }
        if let unknown = top.keys.sorted().first(where: { $0 != "models" }) {
            throw .document(source, field: unknown, "unknown field; the registry has only \"models\"")
        }
        guard let list = top["models"] else {
            throw .document(source, field: "models", "missing; expected an array of models")
        }
        guard case .array(let items) = list else {
            throw .document(source, field: "models", "expected an array of models, got \(list.kindDescription)")
        }
        guard !items.isEmpty else {
            throw .document(source, field: "models", "the registry names no model")
        }
        var entries: [ModelEntry] = []
        for (offset, item) in items.enumerated() {
            var reader = EntryReader(source: source, index: offset + 1, item: item)
            let entry = try reader.entry(baseDirectory: baseDirectory)
            if entries.contains(where: { $0.name == entry.name }) {
                throw .entry(source, index: offset + 1, name: entry.name, field: "name",
                             "the name \"\(entry.name)\" is used by an earlier entry")
            }
            // Each deployment is a modeld instance with a socket of its name: names are unique file-wide.
            for (position, deployment) in entry.deployments.enumerated() {
                if let owner = entries.first(where: { $0.deployments.contains { $0.name == deployment.name } }) {
                    throw .entry(source, index: offset + 1, name: entry.name,
                                 field: deployment.name == entry.name && entry.deployments.count == 1 ? "name" : "deployments[\(position)].name",
                                 "the deployment name \"\(deployment.name)\" is already used by model \"\(owner.name)\"")
                }
            }
            entries.append(entry)
        }
        try checkFallbacks(entries, source: source)
        return ModelRegistry(models: entries, source: source)
    }

    /// Every fallback must name another model of the same kind, once.
    private static func checkFallbacks(_ entries: [ModelEntry], source: String) throws(ModelRegistryError) {
        for (offset, entry) in entries.enumerated() {
            var seen: Set<String> = []
            for fallback in entry.fallbacks {
                func fail(_ message: String) -> ModelRegistryError {
                    .entry(source, index: offset + 1, name: entry.name, field: "fallbacks", message)
                }
                guard fallback != entry.name else { throw fail("a model cannot fall back to itself") }
                guard seen.insert(fallback).inserted else { throw fail("\"\(fallback)\" is listed twice") }
                guard let target = entries.first(where: { $0.name == fallback }) else {
                    throw fail("no model is named \"\(fallback)\"")
                }
                guard target.kind == entry.kind else {
                    throw fail("\"\(fallback)\" serves \(target.kind.rawValue), this model serves \(entry.kind.rawValue)")
                }
            }
        }
        // A loop (a → b → a) would send a request round and round while every deployment is down.
        for (offset, entry) in entries.enumerated() {
            if let loop = fallbackLoop(from: entry.name, entries) {
                throw .entry(source, index: offset + 1, name: entry.name, field: "fallbacks",
                             "the fallbacks loop: " + loop.joined(separator: " → "))
            }
        }
    }

    /// A path of fallbacks from `start` back to itself, or nil when there is none.
    private static func fallbackLoop(from start: String, _ entries: [ModelEntry]) -> [String]? {
        var stack: [(name: String, path: [String])] = [(start, [start])]
        var visited: Set<String> = []
        while let (name, path) = stack.popLast() {
            guard let entry = entries.first(where: { $0.name == name }) else { continue }
            for next in entry.fallbacks {
                if next == start { return path + [next] }
                if visited.insert(next).inserted { stack.append((next, path + [next])) }
            }
        }
        return nil
    }
}

/// Reads one entry of `models`, field by field, naming the entry and field in every error.
private struct EntryReader {
    let source: String
    let index: Int
    let item: JSONTree
    private(set) var name: String? = nil

    /// A model's own fields (the long form has only these beside `deployments`).
    static let modelFields: Set<String> = ["name", "kind", "routing", "fallbacks", "description", "context_length", "deployments"]
    /// A deployment's fields (the short form has them at the model's level).
    static let deploymentFields: Set<String> = [
        "name", "engine", "path", "url", "upstream_model", "api_key_env", "api_key_file", "ca_file",
        "price_input_per_1m", "price_output_per_1m", "weight", "rpm", "tpm", "max_concurrency", "context_length",
    ]
    /// The fields only an upstream (`openai`) deployment may have.
    static let upstreamFields: Set<String> = ["url", "upstream_model", "api_key_env", "api_key_file", "ca_file"]
    /// Far above any model's context; catches a typo.
    static let maximumContextLength = 10_000_000
    /// Far above any sane per-minute cap.
    static let maximumRate = 1_000_000_000
    /// A model name becomes a socket file name and a systemd instance name; 64 keeps
    /// `/run/infer/modeld-NAME.sock` well inside a Unix socket path's 108 bytes.
    static let maximumNameLength = 64
    /// Far above any sane per-model limit; catches a typo of an extra zero or two.
    static let maximumConcurrency = 100_000

    init(source: String, index: Int, item: JSONTree) {
        self.source = source
        self.index = index
        self.item = item
    }

    private func fail(_ field: String?, _ message: String) -> ModelRegistryError {
        .entry(source, index: index, name: name, field: field, message)
    }

    mutating func entry(baseDirectory: String) throws(ModelRegistryError) -> ModelEntry {
        guard case .object(let fields) = item else {
            throw fail(nil, "expected an object, got \(item.kindDescription)")
        }
        let name = try requiredString(fields, "name")
        guard Self.isValidName(name) else {
            throw fail("name", "\"\(name)\" is not a valid model name: use \(ModelRegistry.modelNameRule)")
        }
        self.name = name
        let kind: ModelKind = try choice(fields, "kind")
        let routing: RoutingStrategy = fields["routing"] == nil || fields["routing"] == .null ? .cost : try choice(fields, "routing")
        let deployments: [Deployment]
        if let list = fields["deployments"] {
            // The long form: model-level fields, and each deployment's own in "deployments".
            if let unknown = fields.keys.sorted().first(where: { !Self.modelFields.contains($0) }) {
                throw fail(unknown, "unknown field beside \"deployments\" (a deployment's fields go inside it); "
                    + "known fields are \(Self.modelFields.sorted().joined(separator: ", "))")
            }
            guard case .array(let items) = list, !items.isEmpty else {
                throw fail("deployments", "expected a non-empty array of deployments, got \(list.kindDescription)")
            }
            let defaultContext = try positiveInteger(fields, "context_length", limit: Self.maximumContextLength)
            var made: [Deployment] = []
            for (offset, item) in items.enumerated() {
                let field = "deployments[\(offset)]"
                guard case .object(let own) = item else { throw fail(field, "expected an object, got \(item.kindDescription)") }
                if let unknown = own.keys.sorted().first(where: { !Self.deploymentFields.contains($0) }) {
                    throw fail("\(field).\(unknown)", "unknown field; a deployment's fields are "
                        + Self.deploymentFields.sorted().joined(separator: ", "))
                }
                let deploymentName = try optionalString(own, "name", prefix: field + ".") ?? "\(name)-\(offset + 1)"
                guard Self.isValidName(deploymentName) else {
                    throw fail("\(field).name", "\"\(deploymentName)\" is not a valid deployment name: use \(ModelRegistry.modelNameRule)")
                }
                if made.contains(where: { $0.name == deploymentName }) {
                    throw fail("\(field).name", "\"\(deploymentName)\" names two deployments of this model")
                }
                made.append(try deployment(own, name: deploymentName, model: name, prefix: field + ".",
                                           baseDirectory: baseDirectory, defaultContext: defaultContext))
            }
            deployments = made
        } else {
            // The short form: the entry is its one deployment, named after the model.
            if let unknown = fields.keys.sorted().first(where: { !Self.modelFields.contains($0) && !Self.deploymentFields.contains($0) }) {
                throw fail(unknown, "unknown field; known fields are "
                    + Self.modelFields.union(Self.deploymentFields).subtracting(["deployments"]).sorted().joined(separator: ", "))
            }
            deployments = [try deployment(fields, name: name, model: name, prefix: "", baseDirectory: baseDirectory,
                                          defaultContext: nil)]
        }
        return ModelEntry(name: name, kind: kind, deployments: deployments, routing: routing,
                          fallbacks: try fallbacks(fields), summary: try optionalString(fields, "description"))
    }

    /// One deployment's fields, named in errors with `prefix` (`deployments[1].`, or nothing in the
    /// short form).
    private func deployment(_ fields: [String: JSONTree], name: String, model: String, prefix: String,
                            baseDirectory: String, defaultContext: Int?) throws(ModelRegistryError) -> Deployment {
        let engine: ModelEngine = try choice(fields, "engine", prefix: prefix)
        var path: String?
        var url: URL?
        switch engine {
        case .builtin:
            let raw = try requiredString(fields, "path", prefix: prefix)
            path = raw.hasPrefix("/") ? raw : (baseDirectory.hasSuffix("/") ? baseDirectory : baseDirectory + "/") + raw
            for field in Self.upstreamFields.sorted() where fields[field] != nil {
                throw fail(prefix + field, "only an \"openai\" engine has \(field)")
            }
        case .openai:
            if fields["path"] != nil { throw fail(prefix + "path", "only a \"builtin\" engine has a path; use url") }
            let raw = try requiredString(fields, "url", prefix: prefix)
            guard let parsed = URL(string: raw), let scheme = parsed.scheme?.lowercased(),
                  ["http", "https"].contains(scheme), let host = parsed.host, !host.isEmpty else {
                throw fail(prefix + "url", "expected an http or https URL with a host, got \"\(raw)\"")
            }
            url = parsed
        }
        let apiKeyVariable = try optionalString(fields, "api_key_env", prefix: prefix)
        if let apiKeyVariable, !Self.isEnvironmentName(apiKeyVariable) {
            throw fail(prefix + "api_key_env", "expected the name of an environment variable (A-Z, 0-9, _), got \"\(apiKeyVariable)\"")
        }
        let apiKeyFile = try optionalString(fields, "api_key_file", prefix: prefix)
        if let apiKeyFile, !apiKeyFile.hasPrefix("/") {
            throw fail(prefix + "api_key_file", "expected an absolute path, got \"\(apiKeyFile)\"")
        }
        if apiKeyVariable != nil && apiKeyFile != nil {
            throw fail(prefix + "api_key_file", "name the key in api_key_env or in api_key_file, not both")
        }
        let caFile = try optionalString(fields, "ca_file", prefix: prefix)
        if let caFile, !caFile.hasPrefix("/") {
            throw fail(prefix + "ca_file", "expected an absolute path, got \"\(caFile)\"")
        }
        if caFile != nil, url?.scheme?.lowercased() != "https" {
            throw fail(prefix + "ca_file", "a CA file only applies to an https url")
        }
        return Deployment(
            name: name, model: model, engine: engine, path: path, url: url,
            upstreamModel: try optionalString(fields, "upstream_model", prefix: prefix),
            apiKeyEnvironmentVariable: apiKeyVariable, apiKeyFile: apiKeyFile, caFile: caFile,
            priceInputPer1M: try price(fields, "price_input_per_1m", prefix: prefix),
            priceOutputPer1M: try price(fields, "price_output_per_1m", prefix: prefix),
            weight: try weight(fields, prefix: prefix),
            requestsPerMinute: try positiveInteger(fields, "rpm", limit: Self.maximumRate, prefix: prefix),
            tokensPerMinute: try positiveInteger(fields, "tpm", limit: Self.maximumRate, prefix: prefix),
            maxConcurrency: try positiveInteger(fields, "max_concurrency", limit: Self.maximumConcurrency, prefix: prefix),
            contextLength: try positiveInteger(fields, "context_length", limit: Self.maximumContextLength, prefix: prefix)
                ?? defaultContext)
    }

    private func requiredString(_ fields: [String: JSONTree], _ field: String, prefix: String = "") throws(ModelRegistryError) -> String {
        guard let value = fields[field] else { throw fail(prefix + field, "missing") }
        guard case .string(let text) = value, !text.isEmpty else {
            throw fail(prefix + field, "expected a non-empty string, got \(value.kindDescription)")
        }
        return text
    }

    private func optionalString(_ fields: [String: JSONTree], _ field: String, prefix: String = "") throws(ModelRegistryError) -> String? {
        guard let value = fields[field], value != .null else { return nil }
        guard case .string(let text) = value, !text.isEmpty else {
            throw fail(prefix + field, "expected a non-empty string, got \(value.kindDescription)")
        }
        return text
    }

    private func choice<Value: RawRepresentable & CaseIterable>(
        _ fields: [String: JSONTree], _ field: String, prefix: String = ""
    ) throws(ModelRegistryError) -> Value where Value.RawValue == String {
        let choices = Value.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
        guard let value = fields[field] else { throw fail(prefix + field, "missing; expected \(choices)") }
        guard case .string(let text) = value, let parsed = Value(rawValue: text) else {
            throw fail(prefix + field, "expected \(choices), got \(value.kindDescription)")
        }
        return parsed
    }

    private func price(_ fields: [String: JSONTree], _ field: String, prefix: String) throws(ModelRegistryError) -> Double {
        guard let value = fields[field], value != .null else { return 0 }
        guard case .number(let number) = value, number.isFinite, number >= 0 else {
            throw fail(prefix + field, "expected a price in USD of 0 or more, got \(value.kindDescription)")
        }
        return number
    }

    private func weight(_ fields: [String: JSONTree], prefix: String) throws(ModelRegistryError) -> Double {
        guard let value = fields["weight"], value != .null else { return 1 }
        guard case .number(let number) = value, number.isFinite, number > 0, number <= 1_000_000 else {
            throw fail(prefix + "weight", "expected a number above 0 (a share of traffic), got \(value.kindDescription)")
        }
        return number
    }

    private func fallbacks(_ fields: [String: JSONTree]) throws(ModelRegistryError) -> [String] {
        guard let value = fields["fallbacks"], value != .null else { return [] }
        guard case .array(let items) = value else {
            throw fail("fallbacks", "expected an array of model names, got \(value.kindDescription)")
        }
        var names: [String] = []
        for item in items {
            guard case .string(let text) = item else {
                throw fail("fallbacks", "expected model names, got \(item.kindDescription)")
            }
            names.append(text)
        }
        return names
    }

    private func positiveInteger(
        _ fields: [String: JSONTree], _ field: String, limit: Int, prefix: String = ""
    ) throws(ModelRegistryError) -> Int? {
        guard let value = fields[field], value != .null else { return nil }
        guard case .number(let number) = value, number == number.rounded(), number >= 1, number <= Double(limit) else {
            throw fail(prefix + field, "expected an integer between 1 and \(limit), got \(value.kindDescription)")
        }
        return Int(number)
    }

    static func isValidName(_ name: String) -> Bool {
        (1...maximumNameLength).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }
}

extension ModelRegistry {
    /// Whether `name` is a valid model name (a-z, 0-9, `_`, `-`; 1 to 64 characters): the one rule for
    /// models and deployments in the registry, requests, `INFER_MODEL` and `BATCH_MODELS`, since a
    /// deployment's name is also a socket's and a unit's (`modeld-NAME.sock`, `infer-modeld@NAME`).
    /// - Parameter name: The candidate.
    /// - Returns: True when valid.
    public static func isValidModelName(_ name: String) -> Bool {
        EntryReader.isValidName(name)
    }

    /// The rule ``isValidModelName(_:)`` checks, in words, for messages and settings tables.
    public static let modelNameRule = "1 to \(EntryReader.maximumNameLength) characters among a-z, 0-9, _ and -"
}
