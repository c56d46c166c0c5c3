import Upstream

/// The shape of a streamed answer: which field of each event holds the new text.
enum AnswerKind: Sendable {
    /// `/v1/chat/completions`: `choices[0].delta.content`.
    case chat
    /// `/v1/completions`: `choices[0].text`.
    case completion
    /// frontd's `/v1/infer/stream`: `event: token` with `{"text"}`, then `event: done` with the usage.
    case native

    /// The new text an event carries, if any.
    func text(in event: ServerSentEvent, _ object: [String: Any]) -> String? {
        switch self {
        case .chat:
            let choice = (object["choices"] as? [[String: Any]])?.first
            return (choice?["delta"] as? [String: Any])?["content"] as? String
        case .completion:
            return (object["choices"] as? [[String: Any]])?.first?["text"] as? String
        case .native:
            return event.event == "token" ? object["text"] as? String : nil
        }
    }

    /// The finish reason an event carries, if any.
    func finishReason(in object: [String: Any]) -> String? {
        switch self {
        case .chat, .completion: (object["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String
        case .native: object["finish_reason"] as? String
        }
    }
}

/// What a streamed answer came to.
struct StreamedAnswer: Sendable {
    /// The text, all pieces joined.
    var text = ""
    /// The events that carried text (one per token on infer and llama.cpp's server).
    var pieces = 0
    /// The counts of the final usage event, when the server sent one.
    var usage: UpstreamUsage?
    /// Why generation stopped (`stop`, `length`), when the server said.
    var finishReason: String?

    /// Reads a stream to its end, handing each new piece of text to `onText` as it arrives.
    /// - Parameters:
    ///   - stream: The events.
    ///   - kind: Where the text is in them.
    ///   - route: The route, for messages.
    ///   - onText: Called with each piece, in order.
    /// - Returns: The whole answer.
    /// - Throws: ``UpstreamError`` when the stream breaks, or carries an error event (its message kept).
    static func read(_ stream: UpstreamEventStream, kind: AnswerKind, route: String, onText: (String) -> Void)
        async throws(UpstreamError) -> StreamedAnswer
    {
        var answer = StreamedAnswer()
        for try await event in stream {
            guard let object = event.json() else { continue }
            if let error = object["error"] as? [String: Any] {
                // An error after the stream began comes in-band (OpenAI's way, and frontd's `event: error`).
                let message = error["message"] as? String ?? "the server reported an error"
                throw UpstreamError.invalidResponse(route: route, "the stream ended with an error: \(message)")
            }
            if let text = kind.text(in: event, object), !text.isEmpty {
                answer.text += text
                answer.pieces += 1
                onText(text)
            }
            if let reason = kind.finishReason(in: object) { answer.finishReason = reason }
            if let usage = event.usage { answer.usage = usage }
            // frontd's native stream ends with its `done` event, not OpenAI's `[DONE]`.
            if kind == .native && event.event == "done" { break }
        }
        return answer
    }
}
