/// Writes server-sent events (the `text/event-stream` format of the HTML standard) on a streamed
/// response: `event: NAME`, `id: ID` and one `data: ` line per line of data, then a blank line.
public struct SSEWriter: Sendable {
    /// The response the events are written to.
    public let response: HTTPResponseWriter

    /// Wraps a response whose stream has already been started.
    public init(response: HTTPResponseWriter) {
        self.response = response
    }

    /// Starts an event stream on `response`: `Content-Type: text/event-stream`, `Cache-Control: no-cache`
    /// and `X-Accel-Buffering: no` (so proxies do not hold events back), unless `headers` sets them.
    /// - Throws: ``HTTPResponseError`` as ``HTTPResponseWriter/startStream(status:headers:)`` does.
    public static func start(
        on response: HTTPResponseWriter, status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders()
    ) throws(HTTPResponseError) -> SSEWriter {
        var all = headers
        if !all.contains("Content-Type") { all.add(name: "Content-Type", value: "text/event-stream") }
        if !all.contains("Cache-Control") { all.add(name: "Cache-Control", value: "no-cache") }
        if !all.contains("X-Accel-Buffering") { all.add(name: "X-Accel-Buffering", value: "no") }
        try response.startStream(status: status, headers: all)
        return SSEWriter(response: response)
    }

    /// Sends one event.
    /// - Parameters:
    ///   - data: the payload; each of its lines (split on CR LF, LF or CR) becomes a `data:` line.
    ///   - event: the event type, or `nil` for the default (`message`).
    ///   - id: the event id, or `nil`.
    /// - Returns: `false` when the client has gone.
    @discardableResult
    public func send(data: String, event: String? = nil, id: String? = nil) -> Bool {
        response.write(Self.encode(data: data, event: event, id: id))
    }

    /// Sends a comment line (`: text`), which clients ignore: a keep-alive through idle proxies.
    /// - Returns: `false` when the client has gone.
    @discardableResult
    public func comment(_ text: String = "") -> Bool {
        var out: [UInt8] = [ASCII.colon]
        if !text.isEmpty {
            out.append(ASCII.space)
            out.append(contentsOf: Self.singleLine(text))
        }
        out.append(contentsOf: [ASCII.lf, ASCII.lf])
        return response.write(out)
    }

    /// Ends the stream.
    public func end() {
        response.end()
    }

    /// The bytes of one event. Line breaks in `event` and `id` (which would forge fields) become spaces.
    public static func encode(data: String, event: String? = nil, id: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.utf8.count + 16)
        if let event {
            out.append(static: "event: ")
            out.append(contentsOf: singleLine(event))
            out.append(ASCII.lf)
        }
        if let id {
            out.append(static: "id: ")
            out.append(contentsOf: singleLine(id))
            out.append(ASCII.lf)
        }
        var line: [UInt8] = []
        var previousWasCR = false
        func emit() {
            out.append(static: "data: ")
            out.append(contentsOf: line)
            out.append(ASCII.lf)
            line.removeAll(keepingCapacity: true)
        }
        for byte in data.utf8 {
            if byte == ASCII.lf && previousWasCR {
                previousWasCR = false
                continue
            }
            previousWasCR = byte == ASCII.cr
            if byte == ASCII.lf || byte == ASCII.cr {
                emit()
            } else {
                line.append(byte)
            }
        }
        emit()
        out.append(ASCII.lf)
        return out
    }

    private static func singleLine(_ text: String) -> [UInt8] {
        text.utf8.map { $0 == ASCII.cr || $0 == ASCII.lf || $0 == 0 ? ASCII.space : $0 }
    }
}
