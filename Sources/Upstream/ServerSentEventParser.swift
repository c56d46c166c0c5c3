/// Turns the bytes of a `text/event-stream` into events, as the WHATWG HTML standard defines it.
///
/// Bytes may come in any split (one at a time, mid-line, mid-UTF-8 character, a CR in one piece and
/// its LF in the next); lines end with LF, CRLF or CR; `:` lines are comments; an event's `data:`
/// lines are joined with `\n`; a blank line dispatches it; a field with no colon has an empty value;
/// one space after the colon is dropped; an unfinished event at the end of the stream is discarded.
struct ServerSentEventParser: Sendable {
    /// A line or an event longer than the limit: the upstream is not speaking SSE (or is hostile).
    struct TooLarge: Error, Sendable, Equatable, CustomStringConvertible {
        let limit: Int
        var description: String { "an event stream line or event exceeds \(limit) bytes" }
    }

    /// The most bytes one line, or one event's data, may hold.
    let limit: Int

    private var line: [UInt8] = []
    private var afterCR = false
    private var atStart = true
    private var data: [UInt8] = []
    private var hasData = false
    private var eventType: String?
    private var lastEventID: String?

    /// A parser allowing `limit` bytes per line and per event (default 8 MiB).
    init(limit: Int = 8 << 20) {
        self.limit = limit
    }

    /// Consumes bytes, returning the events they completed, in order.
    /// - Throws: ``TooLarge`` when a line or an event grows past the limit.
    mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws(TooLarge) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == UInt8(ascii: "\n") { continue }  // the LF of a CRLF
            }
            switch byte {
            case UInt8(ascii: "\n"):
                if let event = try endLine() { events.append(event) }
            case UInt8(ascii: "\r"):
                afterCR = true
                if let event = try endLine() { events.append(event) }
            default:
                guard line.count < limit else { throw TooLarge(limit: limit) }
                line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine() throws(TooLarge) -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if atStart {
            atStart = false
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }  // a byte order mark
        }
        if line.isEmpty { return dispatch() }
        if line[0] == UInt8(ascii: ":") { return nil }  // a comment (keep-alives look like this)
        let name: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            name = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            name = line[...]
            value = []
        }
        switch String(decoding: name, as: UTF8.self) {
        case "data":
            guard data.count + value.count < limit else { throw TooLarge(limit: limit) }
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
        case "event":
            eventType = String(decoding: value, as: UTF8.self)
        case "id":
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        default:
            break  // `retry` and unknown fields: nothing for a relay to do
        }
        return nil
    }

    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            eventType = nil
        }
        guard hasData else { return nil }
        let type = eventType.flatMap { $0.isEmpty ? nil : $0 }
        return ServerSentEvent(data: String(decoding: data, as: UTF8.self), event: type, id: lastEventID)
    }
}
