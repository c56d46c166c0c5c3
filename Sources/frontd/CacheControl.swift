import Basics
import HTTP

/// What a request asks of the response cache: the `Cache-Control` request header's directives and the
/// body's `cache` object (for clients that cannot set headers). Where both speak, either one turning
/// reading or writing off wins, and the body's numbers win over the header's.
///
/// - `no-cache`: do not answer from the cache (the answer may still be stored).
/// - `no-store`: do not store the answer.
/// - `max-age=N`: answer only from an entry at most N seconds old.
/// - body `ttl`: keep the answer N seconds (cached's default otherwise).
/// - body `namespace`: a name that partitions the caller's entries (see ``CacheScope``).
/// - body `semantic`: look up and store by meaning too (nil: the model's default, SEMANTIC_CACHE_MODELS).
struct CacheControl: Equatable, Sendable {
    var noCache = false
    var noStore = false
    var maxAgeSeconds: Int?
    var ttlSeconds: Int?
    var namespace: String?
    var semantic: Bool?

    /// Longest `ttl` a request may ask for: 30 days.
    static let maxTTLSeconds = 30 * 86_400

    /// The controls of a request without any.
    static let none = CacheControl()

    /// Reads the controls of a request.
    /// - Parameters:
    ///   - header: The `Cache-Control` header, if any. Unknown directives and malformed values are ignored,
    ///     as RFC 9111 asks of a cache.
    ///   - body: The body's `cache` member, if any.
    /// - Throws: 400 naming the field when `cache` is not an object, holds an unknown member, or a value of
    ///   the wrong type or range (a typo must not silently cache what the client meant to keep private).
    init(header: String?, body: JSONValue?) throws(APIError) {
        if let header { readHeader(header) }
        switch body {
        case nil, .null?: break
        case .object(let object)?: try readBody(object)
        default: throw .invalid("cache must be an object", param: "cache")
        }
    }

    init() {}

    private mutating func readHeader(_ header: String) {
        for directive in header.split(separator: ",") {
            let parts = directive.split(separator: "=", maxSplits: 1)
            let name = parts[0].trimmingOptionalWhitespace().lowercased()
            let value = parts.count > 1 ? Self.unquoted(parts[1].trimmingOptionalWhitespace()) : nil
            switch name {
            case "no-cache": noCache = true
            case "no-store": noStore = true
            case "max-age":
                if let value, let seconds = Int(value), seconds >= 0 { maxAgeSeconds = seconds }
            default: continue
            }
        }
    }

    /// A directive's value without the double quotes around it (`max-age="60"`).
    private static func unquoted(_ text: String) -> Substring {
        var value = Substring(text)
        while value.first == "\"" { value = value.dropFirst() }
        while value.last == "\"" { value = value.dropLast() }
        return value
    }

    private mutating func readBody(_ object: JSONObject) throws(APIError) {
        for (name, value) in object.members {
            let param = "cache." + name
            switch name {
            case "no-cache", "no_cache": if try Self.flag(value, param) { noCache = true }
            case "no-store", "no_store": if try Self.flag(value, param) { noStore = true }
            case "max-age", "max_age": maxAgeSeconds = try Self.seconds(value, param, 0...Int(Int32.max))
            case "ttl": ttlSeconds = try Self.seconds(value, param, 1...Self.maxTTLSeconds)
            case "semantic": semantic = try Self.flag(value, param)
            case "namespace":
                guard let text = value.string, CacheScope.isValidNamespace(text) else {
                    throw .invalid("cache.namespace must be 1 to 64 letters, digits, '.', '_' or '-'", param: param)
                }
                namespace = text
            default:
                throw .invalid("cache has no member \(name.prefix(64)); it takes no-cache, no-store, max-age, ttl, namespace, semantic",
                               param: param)
            }
        }
    }

    private static func flag(_ value: JSONValue, _ param: String) throws(APIError) -> Bool {
        guard case .bool(let flag) = value else {
            throw .invalid("\(param) must be true or false", param: param)
        }
        return flag
    }

    private static func seconds(_ value: JSONValue, _ param: String, _ range: ClosedRange<Int>) throws(APIError) -> Int {
        guard case .number(let number) = value, let exact = number.exactInteger,
              let seconds = Int(exactly: exact), range.contains(seconds) else {
            throw .invalid("\(param) must be a whole number of seconds from \(range.lowerBound) to \(range.upperBound)", param: param)
        }
        return seconds
    }
}
