import Foundation

/// Finds the human message in an upstream's error body, whatever server wrote it:
/// OpenAI and vLLM `{"error": {"message": …}}`, vLLM's older `{"object": "error", "message": …}`,
/// TGI `{"error": "…"}`, FastAPI `{"detail": "…"}` or `{"detail": [{"msg": …}]}`, or plain text.
enum UpstreamErrorBody {
    /// The most of an error body that is read.
    static let maximumBytes = 64 << 10

    /// The message, unredacted (the caller redacts), or nil when the body has none.
    static func message(in body: [UInt8]) -> String? {
        guard !body.isEmpty else { return nil }
        if let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] {
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String { return message }
            if let error = object["error"] as? String { return error }
            if let message = object["message"] as? String { return message }
            if let detail = object["detail"] as? String { return detail }
            if let details = object["detail"] as? [[String: Any]] {
                let messages = details.compactMap { $0["msg"] as? String }
                if !messages.isEmpty { return messages.joined(separator: "; ") }
            }
            return nil
        }
        // Not JSON (a proxy's HTML page, a plain-text error): the start of it, if it is text.
        let text = String(decoding: body.prefix(512), as: UTF8.self)
        return text.contains("<html") || text.contains("<HTML") ? nil : text
    }
}
