#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation

/// Plain OpenAI-shaped calls on URLSession, for the tests that compare what infer relays with what an
/// upstream (llama.cpp's server, a second infer stack) answers directly.
enum OpenAICalls {
    /// A reply: status, headers (lower-cased names) and body (JSON, or the raw text of a stream).
    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data

        /// The body as a JSON object (empty when it is not one).
        var json: [String: Any] { OpenAICalls.json(body) }
        /// The body and the headers as text, to check that a secret appears in neither.
        var text: String { String(decoding: body, as: UTF8.self) + headers.map { "\($0): \($1)" }.joined(separator: "\n") }
    }

    /// POSTs JSON and waits (up to 120 s) for the whole reply.
    static func post(_ url: String, _ body: [String: Any], key: String? = nil, headers extra: [String: String] = [:]) throws -> Reply {
        guard let target = URL(string: url) else { throw URLError(.badURL) }
        var request = URLRequest(url: target)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in extra { request.setValue(value, forHTTPHeaderField: name) }
        if let key { request.setValue("Bearer " + key, forHTTPHeaderField: "Authorization") }
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        request.timeoutInterval = 120
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result = Reply(status: 0, headers: [:], body: Data())
        URLSession.shared.dataTask(with: request) { data, response, _ in
            let http = response as? HTTPURLResponse
            var headers: [String: String] = [:]
            for (name, value) in http?.allHeaderFields ?? [:] { headers[String(describing: name).lowercased()] = String(describing: value) }
            result = Reply(status: http?.statusCode ?? 0, headers: headers, body: data ?? Data())
            done.signal()
        }.resume()
        done.wait()
        return result
    }

    /// GETs a URL with a key.
    static func get(_ url: String, key: String) async throws -> Data {
        guard let target = URL(string: url) else { throw URLError(.badURL) }
        var request = URLRequest(url: target)
        request.setValue("Bearer " + key, forHTTPHeaderField: "Authorization")
        return try await URLSession.shared.data(for: request).0
    }

    static func json(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// `choices[0]` of a reply.
    static func firstChoice(_ data: Data) -> [String: Any]? {
        (json(data)["choices"] as? [[String: Any]])?.first
    }

    /// The text of a chat completion: `choices[0].message.content`.
    static func chatText(_ data: Data) -> String? {
        (firstChoice(data)?["message"] as? [String: Any])?["content"] as? String
    }

    /// The text of a completion: `choices[0].text`.
    static func completionText(_ data: Data) -> String? {
        firstChoice(data)?["text"] as? String
    }

    /// The `data:` objects of an SSE stream, in order, without `[DONE]`.
    static func events(_ data: Data) -> [[String: Any]] {
        String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line -> [String: Any]? in
            guard line.hasPrefix("data: "), line != "data: [DONE]" else { return nil }
            return json(Data(line.dropFirst(6).utf8))
        }
    }

    /// The text of an SSE chat stream: every delta's content, in order.
    static func streamedText(_ data: Data) -> String {
        events(data).compactMap { object in
            let choice = (object["choices"] as? [[String: Any]])?.first
            return (choice?["delta"] as? [String: Any])?["content"] as? String
        }.joined()
    }

    /// The vectors of an embeddings reply, in order.
    static func vectors(_ data: Data) -> [[Double]] {
        ((json(data)["data"] as? [[String: Any]]) ?? []).map { ($0["embedding"] as? [NSNumber] ?? []).map(\.doubleValue) }
    }

    /// Whether two lists of vectors are equal within a relative 1e-6.
    static func sameVectors(_ a: [[Double]], _ b: [[Double]]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in
            x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($0)) }
        }
    }
}
