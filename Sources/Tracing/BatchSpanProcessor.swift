import Dispatch
import Reactor
import Synchronization

/// Sends finished spans somewhere; called on the processor's own thread, one batch at a time.
public protocol SpanExporter: Sendable {
    /// Exports one batch; blocking is fine (bounded by the exporter's own timeout).
    /// - Returns: Whether the receiver took it.
    func export(_ spans: [SpanData]) -> Bool
}

/// How the processor batches (`OTEL_BSP_*`).
public struct BatchSettings: Sendable, Equatable {
    /// Spans waiting at most; one more is dropped and counted (`OTEL_BSP_MAX_QUEUE_SIZE`).
    public var maxQueueSize = 2048
    /// Longest wait between two exports (`OTEL_BSP_SCHEDULE_DELAY`).
    public var scheduleDelay: Duration = .seconds(5)
    /// Most spans in one export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    public var maxExportBatchSize = 512

    public init(maxQueueSize: Int = 2048, scheduleDelay: Duration = .seconds(5), maxExportBatchSize: Int = 512) {
        self.maxQueueSize = max(1, maxQueueSize)
        self.scheduleDelay = scheduleDelay
        self.maxExportBatchSize = max(1, min(maxExportBatchSize, self.maxQueueSize))
    }
}

/// Counts of what a processor did with the spans it was given.
public struct ExportCounts: Sendable, Equatable {
    /// Spans a receiver took.
    public var exported: UInt64 = 0
    /// Spans dropped because the queue was full.
    public var dropped: UInt64 = 0
    /// Spans in batches the receiver did not take (unreachable, refused, timed out).
    public var failed: UInt64 = 0
}

/// The queue between the request path and the exporter: ``enqueue(_:)`` never blocks (a full queue drops
/// the span and counts it), and one background thread exports batches every `scheduleDelay`, or as soon
/// as a batch is full. A slow or unreachable collector therefore costs a request nothing.
public final class BatchSpanProcessor: Sendable {
    public let settings: BatchSettings
    private let exporter: any SpanExporter
    private let queue = Mutex<Queue>(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let counts = Mutex(ExportCounts())

    private struct Queue {
        var spans: [SpanData] = []
        var stopping = false
        var started = false
    }

    /// A processor; its thread starts with the first span.
    public init(exporter: any SpanExporter, settings: BatchSettings = BatchSettings()) {
        self.exporter = exporter
        self.settings = settings
    }

    /// What happened to the spans so far.
    public var exportCounts: ExportCounts { counts.withLock { $0 } }

    /// Spans waiting for export now.
    public var queuedCount: Int { queue.withLock { $0.spans.count } }

    /// Queues a finished span; drops (and counts) it when the queue is full or the processor stopped.
    public func enqueue(_ span: SpanData) {
        let (accepted, full, start) = queue.withLock { queue -> (Bool, Bool, Bool) in
            guard !queue.stopping, queue.spans.count < settings.maxQueueSize else { return (false, false, false) }
            queue.spans.append(span)
            let start = !queue.started
            queue.started = true
            return (true, queue.spans.count == settings.maxExportBatchSize, start)
        }
        guard accepted else {
            counts.withLock { $0.dropped += 1 }
            return
        }
        if start { startThread() }
        if full { wake.signal() }
    }

    /// Exports what is queued, then stops the thread; waits at most `timeout`.
    public func shutdown(timeout: Duration) {
        let running = queue.withLock { queue -> Bool in
            queue.stopping = true
            return queue.started
        }
        guard running else { return }
        wake.signal()
        _ = finished.wait(timeout: .now() + .nanoseconds(Int(clamping: timeout.components.seconds * 1_000_000_000
            + timeout.components.attoseconds / 1_000_000_000)))
    }

    /// Wakes the export thread to send what is queued now, without waiting for the schedule.
    public func forceFlush() {
        wake.signal()
    }

    /// Starts the export thread; when the system refuses a thread, the processor stops (what is queued
    /// and what comes later is dropped and counted) rather than queueing for nobody.
    private func startThread() {
        do {
            try LoopThread.spawn(name: "span-export") { [self] in run() }
        } catch {
            let stranded = queue.withLock { queue -> Int in
                queue.stopping = true
                queue.started = false
                defer { queue.spans.removeAll() }
                return queue.spans.count
            }
            counts.withLock { $0.dropped += UInt64(stranded) }
        }
    }

    private func run() {
        let delay = settings.scheduleDelay
        let delayNanoseconds = Int(clamping: delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
        while true {
            _ = wake.wait(timeout: .now() + .nanoseconds(delayNanoseconds))
            while true {
                let (batch, stopping) = queue.withLock { queue -> ([SpanData], Bool) in
                    let count = min(queue.spans.count, settings.maxExportBatchSize)
                    let batch = Array(queue.spans.prefix(count))
                    queue.spans.removeFirst(count)
                    return (batch, queue.stopping)
                }
                if batch.isEmpty {
                    if stopping {
                        finished.signal()
                        return
                    }
                    break
                }
                let ok = exporter.export(batch)
                counts.withLock { counts in
                    if ok { counts.exported += UInt64(batch.count) } else { counts.failed += UInt64(batch.count) }
                }
            }
        }
    }
}
