import Foundation

/// One event of a `text/event-stream`, as the upstream sent it.
///
/// For an OpenAI stream, ``data`` is one JSON chunk (`chat.completion.chunk` or `text_completion`);
/// the `[DONE]` terminator is not delivered as an event, it ends the stream.
public struct ServerSentEvent: Sendable, Equatable {
    /// The event's data: its `data:` lines joined with `\n`.
    public let data: String
    /// The `event:` field, if the upstream named the event type.
    public let event: String?
    /// The `id:` field, if any.
    public let id: String?

    /// Creates an event.
    public init(data: String, event: String? = nil, id: String? = nil) {
        self.data = data
        self.event = event
        self.id = id
    }

    /// Whether this is OpenAI's end-of-stream marker, `data: [DONE]`.
    public var isDone: Bool {
        // Bytes, not Foundation's trimming: this is asked of every event of every stream.
        var bytes = Substring(data).utf8[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return bytes.elementsEqual("[DONE]".utf8)
    }

    /// The data parsed as a JSON object, or nil when it is not one.
    public func json() -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any]
    }

    /// The chunk's `usage`, when it carries one: the final chunk of a stream asked for with
    /// `stream_options.include_usage` (earlier chunks have `"usage": null` or none).
    public var usage: UpstreamUsage? {
        guard data.utf8.firstRange(of: "\"usage\"".utf8) != nil else { return nil }
        return json().flatMap { UpstreamUsage(answer: $0) }
    }
}
