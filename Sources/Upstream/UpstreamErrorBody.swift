import Foundation

/// Finds the human message in an upstream's error body, whatever server wrote it:
/// OpenAI and vLLM `{"error": {"message": …}}`, vLLM's older `{"object": "error", "message": …}`,
/// TGI `{"error": "…"}`, FastAPI `{"detail": "…"}` or `{"detail": [{"msg": …}]}`, or plain text.
enum UpstreamErrorBody {
    /// The most of an error body that is read.
    static let maximumBytes = 64 << 10

    /// The error's machine-readable code: `error.code` when it is a word (OpenAI's
    /// `context_length_exceeded`), else `error.type` (llama.cpp's `exceed_context_size_error`); only a
    /// short identifier of letters, digits and `_` (nothing else from the body can pass through it).
    static func code(in body: [UInt8]) -> String? {
        guard !body.isEmpty, let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
              let error = object["error"] as? [String: Any] else { return nil }
        for candidate in [error["code"], error["type"]] {
            guard let word = candidate as? String, !word.isEmpty, word.utf8.count <= 64,
                  word.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) })
            else { continue }
            return word
        }
        return nil
    }

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
