import Foundation
import HTTP

/// A request body read as a JSON object, with the checks JSONSerialization does not make itself:
/// the media type (415), valid UTF-8, and a nesting limit that keeps a hostile body from recursing
/// the parser off the stack.
enum JSONBody {
    /// Deepest nesting of arrays and objects accepted.
    static let maxDepth = 32

    /// The body as a JSON object, or a 400/415 `APIError` saying what is wrong with it.
    static func object(_ request: HTTPRequest) throws(APIError) -> [String: Any] {
        if let type = request.headers["Content-Type"], !isJSON(type) {
            throw APIError(status: HTTPStatus(code: 415, reason: "Unsupported Media Type"),
                           message: "the body must be application/json, not \(type.prefix(100))",
                           type: "invalid_request_error", code: "unsupported_media_type", param: nil)
        }
        return try object(request.body)
    }

    /// `bytes` as a JSON object; 400 when empty, not UTF-8, too deep, not JSON or not an object.
    static func object(_ bytes: [UInt8]) throws(APIError) -> [String: Any] {
        guard !bytes.isEmpty else { throw .invalid("the request body is empty; expected a JSON object") }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .invalid("the request body is not valid UTF-8") }
        guard depth(bytes) <= maxDepth else { throw .invalid("the request body nests deeper than \(maxDepth) levels") }
        let any: Any
        do {
            any = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw .invalid("the request body is not valid JSON")
        }
        guard let o = any as? [String: Any] else { throw .invalid("the request body must be a JSON object") }
        return o
    }

    /// `application/json` or `application/<x>+json`, with any parameters (charset).
    static func isJSON(_ contentType: String) -> Bool {
        let media = contentType.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
        return media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
    }

    /// The deepest nesting of `[` and `{` outside strings (stops counting once past the limit).
    static func depth(_ bytes: [UInt8]) -> Int {
        var depth = 0, deepest = 0
        var inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > maxDepth { return deepest }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }
}
