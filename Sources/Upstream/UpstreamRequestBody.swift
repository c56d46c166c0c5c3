import Foundation

/// The JSON body of an OpenAI request, as the gateway received or built it.
///
/// The client rewrites three fields before sending, so callers need not: `model` becomes the
/// endpoint's upstream model name; a streaming call sets `"stream": true` and, when the endpoint asks
/// for usage, `"stream_options": {"include_usage": true}` (other stream options kept); a non-streaming
/// call removes `stream` and `stream_options` (OpenAI refuses `stream_options` without streaming).
/// Every other field goes through unchanged.
public struct UpstreamRequestBody: Sendable {
    /// The body as given: valid JSON whose top level is an object.
    public let json: Data

    /// The largest body accepted, in bytes.
    public static let maximumBytes = 32 << 20

    /// Takes a JSON document.
    /// - Parameter json: UTF-8 JSON whose top level is an object.
    /// - Throws: ``UpstreamError`` (``UpstreamError/Kind/invalidRequest``) when it is not JSON, not an
    ///   object, or larger than ``maximumBytes``.
    public init(json: Data) throws(UpstreamError) {
        guard json.count <= Self.maximumBytes else {
            throw UpstreamError(.invalidRequest, route: "request", detail: "body of \(json.count) bytes exceeds \(Self.maximumBytes)")
        }
        guard (try? JSONSerialization.jsonObject(with: json)) is [String: Any] else {
            throw UpstreamError(.invalidRequest, route: "request", detail: "body is not a JSON object")
        }
        self.json = json
    }

    /// Serialises a JSON object (`[String: Any]` of strings, numbers, booleans, `NSNull`, arrays and
    /// dictionaries).
    /// - Throws: ``UpstreamError`` (``UpstreamError/Kind/invalidRequest``) when it holds a value JSON
    ///   cannot represent.
    public init(_ object: [String: Any]) throws(UpstreamError) {
        guard JSONSerialization.isValidJSONObject(object), let data = try? JSONSerialization.data(withJSONObject: object) else {
            throw UpstreamError(.invalidRequest, route: "request", detail: "body holds a value that is not JSON")
        }
        try self.init(json: data)
    }

    /// The bytes to send: the body with `model`, `stream` and `stream_options` set for this call.
    func prepared(model: String, streaming: Bool?, includeUsage: Bool) throws(UpstreamError) -> Data {
        guard var object = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw UpstreamError(.invalidRequest, route: "request", detail: "body is not a JSON object")
        }
        object["model"] = model
        switch streaming {
        case true?:
            object["stream"] = true
            if includeUsage {
                var options = object["stream_options"] as? [String: Any] ?? [:]
                options["include_usage"] = true
                object["stream_options"] = options
            }
        case false?:
            object.removeValue(forKey: "stream")
            object.removeValue(forKey: "stream_options")
        case nil:
            break  // embeddings: no streaming fields at all
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object) else {
            throw UpstreamError(.invalidRequest, route: "request", detail: "body could not be serialised")
        }
        return data
    }
}
