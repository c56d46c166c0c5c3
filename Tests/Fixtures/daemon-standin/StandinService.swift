import DaemonRuntime
import Dispatch
import Glibc
import IPC

/// Answers every connection with who it is: `limitd pid 4242` on a Unix socket, the same line as an HTTP
/// 200 response on a TCP one (so curl works against a stand-in frontd or metricsd).
final class StandinService: DaemonService, @unchecked Sendable {
    // @unchecked: the sources are made in init and only cancelled afterwards, on `acceptQueue`.
    private let acceptQueue = DispatchQueue(label: "standin.accept")
    private let connectionQueue = DispatchQueue(label: "standin.connections", attributes: .concurrent)
    private var sources: [any DispatchSourceRead] = []
    private let healthy: Bool

    /// Longest wait for an HTTP client's request before answering anyway.
    private static let requestWaitMilliseconds: Int32 = 1_000

    init(identity: String, listeners: [ListeningSocket], healthy: Bool) {
        self.healthy = healthy
        let line = "\(identity) pid \(getpid())\n"
        for listener in listeners {
            let isHTTP = listener.name == "http" || listener.name == "metrics-http"
            let reply = Array((isHTTP
                ? "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(line.utf8.count)\r\n"
                    + "Connection: close\r\n\r\n" + line
                : line).utf8)
            let descriptor = listener.fileDescriptor
            let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: acceptQueue)
            source.setEventHandler { [connectionQueue] in
                while true {
                    let connection = accept(descriptor, nil, nil)
                    if connection < 0 { break }
                    connectionQueue.async { Self.answer(connection, reply: reply, readRequest: isHTTP) }
                }
            }
            source.setCancelHandler { close(descriptor) }
            source.activate()
            sources.append(source)
        }
    }

    private static func answer(_ connection: Int32, reply: [UInt8], readRequest: Bool) {
        if readRequest {
            // Read (some of) the request first: closing with unread bytes would reset the connection.
            var waiting = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            if poll(&waiting, 1, requestWaitMilliseconds) > 0 {
                var buffer = [UInt8](repeating: 0, count: 8192)
                _ = read(connection, &buffer, buffer.count)
            }
        }
        _ = reply.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        shutdown(connection, Int32(SHUT_WR))
        close(connection)
    }

    var readyStatus: String { "serving (stand-in)" }

    func isHealthy() async -> Bool { healthy }

    func drain(until deadline: ContinuousClock.Instant) async {
        acceptQueue.sync { for source in sources { source.cancel() } }
        // Let connections already accepted finish (each takes at most the request wait).
        connectionQueue.sync(flags: .barrier) {}
    }
}
