import Basics
import HTTP

/// A request body read as a JSON object, with the checks beyond the grammar: the media type (415), valid
/// UTF-8, and ``JSONReader``'s strict reading (nesting limit, duplicate keys, lone surrogates, numbers out
/// of range) that keeps a hostile body from recursing the parser off the stack or being read two ways.
enum JSONBody {
    /// Deepest nesting of arrays and objects accepted.
    static let maxDepth = 32

    /// The body as a JSON object, or a 400/415 `APIError` saying what is wrong with it.
    static func object(_ request: HTTPRequest) throws(APIError) -> JSONObject {
        if let type = request.headers["Content-Type"], !isJSON(type) {
            throw APIError(status: HTTPStatus(code: 415, reason: "Unsupported Media Type"),
                           message: "the body must be application/json, not \(type.prefix(100))",
                           type: "invalid_request_error", code: "unsupported_media_type", param: nil)
        }
        return try object(request.body)
    }

    /// `bytes` as a JSON object; 400 when empty, not UTF-8, too deep, not strict JSON (``JSONReader``) or
    /// not an object; 422 naming the field when a number is beyond a Double's range.
    static func object(_ bytes: [UInt8]) throws(APIError) -> JSONObject {
        guard !bytes.isEmpty else { throw .invalid("the request body is empty; expected a JSON object") }
        // Most bodies are ASCII, which needs no further check (nor the String the check builds).
        guard bytes.allSatisfy({ $0 < 0x80 }) || String(validating: bytes, as: UTF8.self) != nil else {
            throw .invalid("the request body is not valid UTF-8")
        }
        let value: JSONValue
        do {
            value = try JSONReader.read(bytes, maxDepth: maxDepth)
        } catch {
            switch error {
            case .malformed(let what, let offset):
                throw .invalid("the request body is not valid JSON: \(what) (at byte \(offset))")
            case .tooDeep(let limit):
                throw .invalid("the request body nests deeper than \(limit) levels")
            case .outOfRange(let path, let literal):
                let shown = literal.utf8.count > 40 ? String(literal.prefix(40)) + "…" : literal
                if path.isEmpty { throw .invalid("the request body must be a JSON object") }
                throw .unprocessable("\(path) is out of range: \(shown)", param: path)
            }
        }
        guard let o = value.object else { throw .invalid("the request body must be a JSON object") }
        return o
    }

    /// `application/json` or `application/<x>+json`, with any parameters (charset).
    static func isJSON(_ contentType: String) -> Bool {
        // What nearly every client sends, decided without Foundation's trimming and lowercasing.
        if contentType == "application/json" { return true }
        let media = contentType.prefix { $0 != ";" }.trimmingOptionalWhitespace().lowercased()
        return media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
    }
}
