import DaemonRuntime
import Dispatch
import Glibc
import IPC

/// Answers every connection with one line, on a dispatch read source per listener.
final class ProbeService: DaemonService, @unchecked Sendable {
    // @unchecked: the sources are created in init and only cancelled afterwards, on `queue`.
    private let queue: DispatchQueue
    private let sources: [any DispatchSourceRead]
    private let healthy: Bool
    private let drainTime: Duration

    init(descriptors: [Int32], reply: String, healthy: Bool, drainTime: Duration) {
        self.healthy = healthy
        self.drainTime = drainTime
        let line = Array((reply + "\n").utf8)
        let queue = DispatchQueue(label: "probe.accept")
        self.queue = queue
        sources = descriptors.map { listener in
            let source = DispatchSource.makeReadSource(fileDescriptor: listener, queue: queue)
            source.setEventHandler {
                while true {
                    let connection = accept(listener, nil, nil)
                    if connection < 0 { break }
                    _ = line.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                    close(connection)
                }
            }
            source.setCancelHandler { close(listener) }
            source.activate()
            return source
        }
    }

    var readyStatus: String { "serving" }

    func isHealthy() async -> Bool { healthy }

    func drain(until deadline: ContinuousClock.Instant) async {
        queue.sync { for source in sources { source.cancel() } }
        try? await Task.sleep(for: drainTime)
    }
}
