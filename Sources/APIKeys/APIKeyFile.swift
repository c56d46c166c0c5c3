import Basics
import Crypto
import FoundationEssentials
import Settings

/// The API keys frontd accepts, as stored in the keys file (`API_KEYS_FILE`, default
/// `/etc/infer/keys.json`), which `inferctl keys` writes and frontd reads:
///
/// ```json
/// {
///   "keys": [
///     {"name": "ci", "id": "key_3f9a0c1d2b4e5f60", "sha256": "<64 hex digits>", "scopes": ["infer", "embed"], "requests_per_minute": 600, "created": 1763900000}
///   ]
/// }
/// ```
///
/// Keys are stored only as SHA-256 hashes. Every field is checked when the file is read, and an error
/// names the file, the entry and the field (``APIKeyFileError``); unknown fields are errors too, so a
/// misspelt limit is not silently the default. A file holding the hash of the original API's default
/// token `changeme` is rejected.
public struct APIKeyFile: Sendable, Equatable {
    /// The keys in file order.
    public var keys: [APIKeyEntry]

    /// `API_KEYS_FILE`: the keys file frontd reads; add it to a daemon's settings table.
    public static let fileSetting = Setting<String>(
        name: "API_KEYS_FILE", default: "/etc/infer/keys.json",
        meaning: "The API keys file (inferctl keys writes it); re-read within a second when it changes. "
            + "Missing or invalid: every route that needs a key answers 401 (logged).",
        path: .absolute)

    /// `AUTH_DISABLED`: turns API-key authentication off, for development.
    public static let authDisabledSetting = Setting<Bool>(
        name: "AUTH_DISABLED", default: false,
        meaning: "true turns API-key authentication off (every route open, limits per client address); "
            + "development only, logged at start.")

    /// Largest keys file read (a file of 10 000 keys is about 2 MiB).
    public static let maxBytes = 16 << 20

    public init(keys: [APIKeyEntry] = []) {
        self.keys = keys
    }

    /// The index of the key with this name, or else this id.
    public func index(ofNameOrID text: String) -> Int? {
        keys.firstIndex { $0.name == text } ?? keys.firstIndex { $0.id == text }
    }

    // MARK: Reading

    private static let topFields: Set<String> = ["keys"]
    private static let entryFields: Set<String> = [
        "name", "id", "sha256", "scopes", "requests_per_minute", "created", "requests_per_hour", "tokens_per_minute", "max_parallel",
        "max_budget", "budget_duration", "models", "expires", "model_limits",
    ]
    /// Largest budget a key may have, in USD (limitd counts in billionths of a dollar in 64 bits).
    public static let maxBudget = 1_000_000_000.0

    /// Parses and checks a keys file's contents.
    /// - Parameters:
    ///   - bytes: The file's bytes.
    ///   - file: The file's path, for messages.
    /// - Returns: The keys.
    /// - Throws: ``APIKeyFileError`` of kind `.invalid` naming the entry and field that are wrong.
    public static func decode(_ bytes: [UInt8], file: String) throws(APIKeyFileError) -> APIKeyFile {
        let document: JSONTree
        do throws(JSONTree.SyntaxError) {
            document = try JSONTree.parse(Data(bytes))
        } catch {
            throw APIKeyFileError(.invalid, file: file, "not valid JSON: \(error.reason)")
        }
        guard case .object(let top) = document else {
            throw APIKeyFileError(.invalid, file: file, "expected an object {\"keys\": [...]}, got \(document.kindDescription)")
        }
        if let unknown = top.keys.sorted().first(where: { !topFields.contains($0) }) {
            throw APIKeyFileError(.invalid, file: file, "unknown field \"\(unknown)\"; the file has one field, \"keys\"")
        }
        guard let list = top["keys"] else {
            throw APIKeyFileError(.invalid, file: file, "field \"keys\" is missing (an empty file of keys is {\"keys\": []})")
        }
        guard case .array(let items) = list else {
            throw APIKeyFileError(.invalid, file: file, "field \"keys\": expected an array, got \(list.kindDescription)")
        }
        var keys: [APIKeyEntry] = []
        for (offset, item) in items.enumerated() {
            keys.append(try entry(item, index: offset + 1, file: file))
        }
        let parsed = APIKeyFile(keys: keys)
        try parsed.validate(file: file)
        return parsed
    }

    /// Checks what holds across entries: unique names, ids and hashes, and no `changeme`.
    /// - Parameter file: The file's path, for messages.
    /// - Throws: ``APIKeyFileError`` of kind `.invalid`.
    public func validate(file: String) throws(APIKeyFileError) {
        var names: [String: Int] = [:]
        var ids: [String: Int] = [:]
        var digests: [[UInt8]: Int] = [:]
        for (offset, key) in keys.enumerated() {
            let index = offset + 1
            func fail(_ field: String, _ message: String) -> APIKeyFileError {
                .entry(file, index: index, name: key.name, field: field, message)
            }
            guard APIKeyEntry.isValidName(key.name) else { throw fail("name", "expected 1 to 64 of A-Z a-z 0-9 . _ -") }
            guard APIKeyEntry.isValidID(key.id) else { throw fail("id", "expected 1 to 64 of A-Z a-z 0-9 _ -") }
            guard key.digest.count == 32 else { throw fail("sha256", "expected 32 bytes") }
            guard key.requestsPerMinute <= APIKeyEntry.maxRequestsPerMinute else {
                throw fail("requests_per_minute", "expected an integer between 0 and \(APIKeyEntry.maxRequestsPerMinute)")
            }
            // The hash of a public word is no secret: anyone could present it.
            if key.digest == APIKeySecret.defaultTokenDigest {
                throw fail("sha256", "this is the hash of the well-known default token \"\(APIKeySecret.defaultToken)\", "
                    + "which is never accepted; remove the key and create one with inferctl keys create")
            }
            if let first = names.updateValue(index, forKey: key.name) {
                throw fail("name", "the name is already used by entry \(first)")
            }
            if let first = ids.updateValue(index, forKey: key.id) {
                throw fail("id", "the id \"\(key.id)\" is already used by entry \(first)")
            }
            if let first = digests.updateValue(index, forKey: key.digest) {
                throw fail("sha256", "the same key hash is already in entry \(first)")
            }
        }
    }

    private static func entry(_ value: JSONTree, index: Int, file: String) throws(APIKeyFileError) -> APIKeyEntry {
        guard case .object(let fields) = value else {
            throw .entry(file, index: index, name: nil, field: nil, "expected an object, got \(value.kindDescription)")
        }
        var name: String?
        if case .string(let text)? = fields["name"], APIKeyEntry.isValidName(text) { name = text }
        func fail(_ field: String?, _ message: String) -> APIKeyFileError {
            .entry(file, index: index, name: name, field: field, message)
        }
        if let unknown = fields.keys.sorted().first(where: { !entryFields.contains($0) }) {
            throw fail(nil, "unknown field \"\(unknown)\"; expected \(entryFields.sorted().joined(separator: ", "))")
        }
        func string(_ field: String) throws(APIKeyFileError) -> String {
            switch fields[field] {
            case .string(let text)?: return text
            case nil: throw fail(field, "missing")
            case let other?: throw fail(field, "expected a string, got \(other.kindDescription)")
            }
        }
        func integer(_ field: String, max: Double) throws(APIKeyFileError) -> Int64? {
            switch fields[field] {
            case nil, .null?: return nil
            case .number(let number)? where number >= 0 && number <= max && number == number.rounded():
                return Int64(number)
            case let other?: throw fail(field, "expected an integer between 0 and \(JSONTree.format(max)), got \(other.kindDescription)")
            }
        }

        let nameText = try string("name")
        guard APIKeyEntry.isValidName(nameText) else {
            throw fail("name", "expected 1 to 64 of A-Z a-z 0-9 . _ - (starting with a letter or digit), got \"\(nameText)\"")
        }
        let id = try string("id")
        guard APIKeyEntry.isValidID(id) else {
            throw fail("id", "expected 1 to 64 of A-Z a-z 0-9 _ - (starting with a letter or digit), got \"\(id)\"")
        }
        let hash = try string("sha256")
        guard hash.utf8.count == 64, let digest = Hex.decode(hash) else {
            throw fail("sha256", "expected the key's SHA-256 as 64 hex digits")
        }
        var scopes = Set<APIKeyScope>()
        switch fields["scopes"] {
        case .array(let items)?:
            for item in items {
                guard case .string(let text) = item else {
                    throw fail("scopes", "expected scope names (\(Self.scopeChoices)), got \(item.kindDescription)")
                }
                guard let scope = APIKeyScope(rawValue: text) else {
                    throw fail("scopes", "unknown scope \"\(text)\"; expected \(Self.scopeChoices)")
                }
                scopes.insert(scope)
            }
        case nil: throw fail("scopes", "missing (an empty list [] allows only the routes any key may call)")
        case let other?: throw fail("scopes", "expected an array of scopes, got \(other.kindDescription)")
        }
        let created = try integer("created", max: 9_007_199_254_740_991)
        var entry = APIKeyEntry(name: nameText, id: id, digest: digest, scopes: scopes, created: created)
        entry.limits = try limits(fields, fail: fail)
        entry.expires = try integer("expires", max: 9_007_199_254_740_991)
        switch fields["max_budget"] {
        case nil, .null?: break
        case .number(let usd)? where usd >= 0 && usd <= maxBudget: entry.maxBudget = usd
        case let other?: throw fail("max_budget", "expected USD, a number between 0 and \(JSONTree.format(maxBudget)), got \(other.kindDescription)")
        }
        switch fields["budget_duration"] {
        case nil, .null?: break
        case .string(let text)?:
            guard let period = BudgetPeriod(text) else { throw fail("budget_duration", "expected 1h, 1d, 7d, 30d or 1mo (a number of h, d or mo), got \"\(text)\"") }
            entry.budgetDuration = period
        case let other?: throw fail("budget_duration", "expected a string such as \"30d\", got \(other.kindDescription)")
        }
        switch fields["models"] {
        case nil, .null?: break
        case .array(let items)?:
            for item in items {
                guard case .string(let model) = item, Self.isModelName(model) else { throw fail("models", "expected model names, got \(item.kindDescription)") }
                entry.models.append(model)
            }
        case let other?: throw fail("models", "expected an array of model names, got \(other.kindDescription)")
        }
        switch fields["model_limits"] {
        case nil, .null?: break
        case .object(let models)?:
            for (model, value) in models {
                guard Self.isModelName(model) else { throw fail("model_limits", "\"\(model)\" is not a model name") }
                guard case .object(let limitFields) = value else { throw fail("model_limits", "\(model): expected an object of limits, got \(value.kindDescription)") }
                let allowed = Set(APIKeyLimits.fields.map(\.name))
                if let unknown = limitFields.keys.sorted().first(where: { !allowed.contains($0) }) {
                    throw fail("model_limits", "\(model): unknown field \"\(unknown)\"; expected \(allowed.sorted().joined(separator: ", "))")
                }
                entry.modelLimits[model] = try limits(limitFields) { field, message in fail("model_limits", "\(model).\(field ?? ""): " + message) }
            }
        case let other?: throw fail("model_limits", "expected an object {model: {limits}}, got \(other.kindDescription)")
        }
        return entry
    }

    /// The four limits of a key or a key-and-model scope from an object's fields (absent: 0).
    private static func limits(
        _ fields: [String: JSONTree], fail: (String?, String) -> APIKeyFileError
    ) throws(APIKeyFileError) -> APIKeyLimits {
        var limits = APIKeyLimits()
        for field in APIKeyLimits.fields {
            switch fields[field.name] {
            case nil, .null?: continue
            case .number(let number)? where number >= 0 && number <= Double(field.max) && number == number.rounded():
                limits[keyPath: field.path] = UInt32(number)
            case let other?: throw fail(field.name, "expected an integer between 0 and \(field.max), got \(other.kindDescription)")
            }
        }
        return limits
    }

    /// A model name as a key may list it: 1 to 128 printable ASCII characters without spaces.
    static func isModelName(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count) && text.utf8.allSatisfy { $0 > 32 && $0 < 127 }
    }

    /// "infer, embed or admin".
    static var scopeChoices: String {
        let names = APIKeyScope.allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
    }

    // MARK: Writing

    /// The file's contents: one key per line, fields in a fixed order, so files diff well.
    public func encoded() -> [UInt8] {
        let lines = keys.map { key in
            var fields = [
                "\"name\": \(JSONString.quoted(key.name))", "\"id\": \(JSONString.quoted(key.id))", "\"sha256\": \(JSONString.quoted(key.sha256))",
                "\"scopes\": [\(key.scopes.sorted().map { JSONString.quoted($0.rawValue) }.joined(separator: ", "))]",
                "\"requests_per_minute\": \(key.requestsPerMinute)",
            ]
            if let created = key.created { fields.append("\"created\": \(created)") }
            for field in APIKeyLimits.fields.dropFirst() where key.limits[keyPath: field.path] > 0 {
                fields.append("\"\(field.name)\": \(key.limits[keyPath: field.path])")
            }
            if let budget = key.maxBudget { fields.append("\"max_budget\": \(JSONTree.format(budget))") }
            if let period = key.budgetDuration { fields.append("\"budget_duration\": \(JSONString.quoted(period.description))") }
            if !key.models.isEmpty { fields.append("\"models\": [\(key.models.map(JSONString.quoted).joined(separator: ", "))]") }
            if let expires = key.expires { fields.append("\"expires\": \(expires)") }
            if !key.modelLimits.isEmpty {
                let models = key.modelLimits.keys.sorted().map { model in
                    let limits = key.modelLimits[model] ?? APIKeyLimits()
                    let values = APIKeyLimits.fields.filter { limits[keyPath: $0.path] > 0 }.map { "\"\($0.name)\": \(limits[keyPath: $0.path])" }
                    return JSONString.quoted(model) + ": {" + values.joined(separator: ", ") + "}"
                }
                fields.append("\"model_limits\": {" + models.joined(separator: ", ") + "}")
            }
            return "    {" + fields.joined(separator: ", ") + "}"
        }
        let body = lines.isEmpty ? "{\n  \"keys\": []\n}\n" : "{\n  \"keys\": [\n" + lines.joined(separator: ",\n") + "\n  ]\n}\n"
        return Array(body.utf8)
    }
}
