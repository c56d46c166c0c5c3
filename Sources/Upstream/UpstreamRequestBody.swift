import Foundation

/// The JSON body of an OpenAI request, as the gateway received or built it.
///
/// The client rewrites three fields before sending, so callers need not: `model` becomes the
/// endpoint's upstream model name; a streaming call sets `"stream": true` and, when the endpoint asks
/// for usage, `"stream_options": {"include_usage": true}` (other stream options kept); a non-streaming
/// call removes `stream` and `stream_options` (OpenAI refuses `stream_options` without streaming).
/// Every other field goes through unchanged.
public struct UpstreamRequestBody: Sendable {
    /// A JSON document given whole, or the members of a top-level object built by the caller.
    private enum Source: Sendable {
        case document(Data)
        case members([(String, UpstreamJSONValue)])
    }

    private let source: Source

    /// The body as given: valid JSON whose top level is an object.
    public var json: Data {
        switch source {
        case .document(let json): return json
        case .members(let members):
            var out: [UInt8] = []
            UpstreamJSONValue.writeObject(members, to: &out)
            return Data(out)
        }
    }

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
        source = .document(json)
    }

    /// A body built from the members of its top-level object, written as bytes only when sent (the
    /// cheap way for a caller that builds the body itself, as modeld does for each generation).
    /// - Throws: ``UpstreamError`` (``UpstreamError/Kind/invalidRequest``) when a number is not finite.
    public init(members: [(String, UpstreamJSONValue)]) throws(UpstreamError) {
        guard members.allSatisfy({ $0.1.isRepresentable }) else {
            throw UpstreamError(.invalidRequest, route: "request", detail: "body holds a number that is not finite")
        }
        source = .members(members)
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
        guard case .document(let json) = source else { return preparedMembers(model: model, streaming: streaming, includeUsage: includeUsage) }
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

    /// ``prepared(model:streaming:includeUsage:)`` for a body built from members: the same rewriting,
    /// written directly.
    private func preparedMembers(model: String, streaming: Bool?, includeUsage: Bool) -> Data {
        guard case .members(let given) = source else { return json }
        // Embeddings (streaming nil) keep whatever the caller gave; the others get the stream fields set here.
        var members = given.filter { $0.0 != "model" && (streaming == nil || ($0.0 != "stream" && $0.0 != "stream_options")) }
        members.insert(("model", .string(model)), at: 0)
        if streaming == true {
            members.append(("stream", .bool(true)))
            if includeUsage {
                var options: [(String, UpstreamJSONValue)] = []
                if case .object(let earlier)? = given.first(where: { $0.0 == "stream_options" })?.1 {
                    options = earlier.filter { $0.0 != "include_usage" }
                }
                options.append(("include_usage", .bool(true)))
                members.append(("stream_options", .object(options)))
            } else if let earlier = given.first(where: { $0.0 == "stream_options" }) {
                members.append(earlier)
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(512)
        UpstreamJSONValue.writeObject(members, to: &out)
        return Data(out)
    }
}
