import Glibc
import IPC
import Metrics
import Tracing
import Wire

/// What every daemon's socket does the same way: find the handler of a call's message type, decode the
/// payload, answer the stats call, and answer what it cannot take with the right ERROR. A daemon's
/// service is then its handlers and nothing else:
///
/// ```swift
/// var shell = ServiceShell(name: "limitd", metrics: registry)
/// shell.register(LimitProtocol.Admit.self) { admit, call in
///     call.reply(limiter.admit(admit))
/// }
/// let server = shell.server(listenFD: fd, protocolName: ServiceName.limitd)
/// ```
///
/// How each call is answered, for every daemon alike:
/// - a registered type: its payload decoded as the message (trailing bytes are an error), then the handler,
///   which answers through the ``IPCCall`` (reply, stream, or a service error);
/// - a payload that does not decode: ERROR ``IPCErrorCode/badRequest``, `undecodable Admit: <why>`;
/// - ``StatsProtocol/statsType``: the daemon's ``MetricsRegistry`` as a ``MetricsSnapshot``;
///   ``StatsProtocol/statsWithExemplarsType``: the same with histogram exemplars;
/// - any other type: ERROR ``IPCErrorCode/unknownType``, `limitd does not know message type 77`.
///
/// A refused call ends only that call: the connection goes on serving.
///
/// Tracing: a call that carries a trace context (docs/PROTOCOL.md) runs its handler inside a server span
/// named `DAEMON Message` (`limitd Admit`, `cached Get`), child of the caller's span; the handler sees it
/// as ``Span/current`` and its calls to other daemons are its children. A call without one (health
/// probes, stats, a caller with tracing off) makes no span: back daemons never start traces.
public struct ServiceShell: Sendable {
    /// What the shell refused on its own, before any handler ran: for the daemon's log or metrics.
    public struct Refusal: Sendable, Equatable {
        /// The call's message type.
        public var type: UInt16
        /// The ERROR code sent: ``IPCErrorCode/unknownType`` or ``IPCErrorCode/badRequest``.
        public var code: UInt16
        /// The ERROR message sent.
        public var message: String
    }

    /// The daemon's name, as the ERROR messages say it (`limitd`).
    public let name: String
    private let metrics: MetricsRegistry
    private let beforeStats: @Sendable () -> Void
    private let onRefusal: @Sendable (Refusal) -> Void
    private var handlers: [UInt16: @Sendable (IPCCall) async -> Void] = [:]
    /// The types registered `inline`.
    private var inlineTypes: Set<UInt16> = []
    private let tracing: TracingCounters

    /// A shell with no handlers yet; add them with ``register(_:_:)``.
    /// - Parameters:
    ///   - name: The daemon's name, for ERROR messages.
    ///   - metrics: The registry the stats call answers with.
    ///   - beforeStats: Runs just before the stats call is answered: set the gauges that cost nothing
    ///     until someone looks (sizes, counts of tracked keys).
    ///   - onRefusal: Runs after the shell refused a call itself (unknown type, undecodable payload).
    public init(
        name: String, metrics: MetricsRegistry, beforeStats: @escaping @Sendable () -> Void = {},
        onRefusal: @escaping @Sendable (Refusal) -> Void = { _ in }
    ) {
        self.name = name
        self.metrics = metrics
        self.beforeStats = beforeStats
        self.onRefusal = onRefusal
        tracing = TracingCounters(registry: metrics, daemon: name)
        Self.recordStart(in: metrics)
    }

    /// The gauge every daemon's stats carry: when it started, in seconds since the epoch. metricsd turns
    /// the daemons' values into `infer_daemon_start_time_seconds{daemon}`, so a restart loop shows as
    /// changes of it (monitoring/ alerts on that).
    public static let startTimeMetric = "infer_process_start_time_seconds"

    /// The daemon's process id, for metricsd's status page (metricsd keeps it out of its exposition).
    public static let processIDMetric = "infer_process_id"

    private static func recordStart(in metrics: MetricsRegistry) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        metrics.gauge(startTimeMetric, help: "When this daemon started, in seconds since the epoch.")
            .set(Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
        metrics.gauge(processIDMetric, help: "This daemon's process id.").set(Double(getpid()))
    }

    /// Routes calls of `Message.type` to `handler`, with the payload decoded.
    ///
    /// Registering a type twice, or the stats type, is a programming error.
    /// - Parameters:
    ///   - message: The request message the handler takes.
    ///   - traced: Whether a traced call runs in a server span; false for a handler that hands the call
    ///     to other work and returns (that work makes its own spans under ``IPCCall/traceContext``).
    ///   - inline: Whether the handler starts on the socket's I/O thread (``IPCServer``'s `inlineTypes`):
    ///     for a handler that answers in microseconds without blocking (a lookup, a counter), saving the
    ///     thread hop of each call; never for one that computes or blocks.
    ///   - handler: Answers the call: exactly one terminal frame through the ``IPCCall``.
    public mutating func register<Message: WireMessage>(
        _ message: Message.Type, traced: Bool = true, inline: Bool = false,
        _ handler: @escaping @Sendable (Message, IPCCall) async -> Void
    ) {
        precondition(Message.type != StatsProtocol.statsType && Message.type != StatsProtocol.statsWithExemplarsType,
                     "the stats types are answered by the shell itself")
        precondition(handlers[Message.type] == nil, "message type \(Message.type) of \(name) is registered twice")
        if inline { inlineTypes.insert(Message.type) }
        let refuse = onRefusal
        let spanName = "\(name) \(Message.self)"
        let rpcService = "infer.\(name)"
        let decodeAndRun: @Sendable (IPCCall) async -> Void = { call in
            let request: Message
            do {
                request = try call.decode(Message.self)
            } catch {
                let refusal = Refusal(type: call.type, code: IPCErrorCode.badRequest, message: "undecodable \(Message.self): \(error)")
                call.fail(code: refusal.code, message: refusal.message)
                refuse(refusal)
                return
            }
            await handler(request, call)
        }
        handlers[Message.type] = { call in
            guard traced, let parent = call.traceContext else { return await decodeAndRun(call) }
            let span = Tracer.global.startSpan(spanName, kind: .server, parent: parent, attributes: [
                "rpc.system": .string("infer"), "rpc.service": .string(rpcService), "rpc.method": .string("\(Message.self)"),
            ])
            await TraceContext.$current.withValue(span.context) {
                await Span.$current.withValue(span) { await decodeAndRun(call) }
            }
            span.end()
        }
    }

    /// Answers one call: its handler, the stats reply, or an ERROR.
    /// - Parameter call: The call, from an ``IPCServer``.
    public func dispatch(_ call: IPCCall) async {
        if let handler = handlers[call.type] {
            await handler(call)
        } else if call.type == StatsProtocol.statsType || call.type == StatsProtocol.statsWithExemplarsType {
            beforeStats()
            tracing.update(from: Tracer.global)
            if call.type == StatsProtocol.statsType {
                call.reply(MetricsSnapshot(families: metrics.snapshot()))
            } else {
                call.reply(MetricsSnapshotWithExemplars(families: metrics.snapshot()))
            }
        } else {
            let refusal = Refusal(
                type: call.type, code: IPCErrorCode.unknownType, message: "\(name) does not know message type \(call.type)")
            call.fail(code: refusal.code, message: refusal.message)
            onRefusal(refusal)
        }
    }

    /// An ``IPCServer`` on a listening socket that answers every call through this shell; call its
    /// `start()` to accept.
    /// - Parameters:
    ///   - listenFD: The daemon's listening Unix socket (the server never closes it).
    ///   - protocolName: The protocol clients must name in HELLO (``ServiceName``).
    /// - Returns: The server, not yet started.
    public func server(listenFD: Int32, protocolName: String) -> IPCServer {
        IPCServer(listenFD: listenFD, protocolName: protocolName, version: ServiceName.version, inlineTypes: inlineTypes) { call in
            await dispatch(call)
        }
    }
}

/// The tracer's export counts as counters of the daemon's registry: `infer_trace_spans_exported_total`,
/// `infer_trace_spans_dropped_total` (queue full) and `infer_trace_spans_failed_total` (the collector
/// did not take them), labelled with the daemon (metricsd merges every daemon's families into one text),
/// brought up to date when the stats call is answered.
struct TracingCounters: Sendable {
    static let names = (exported: "infer_trace_spans_exported_total", dropped: "infer_trace_spans_dropped_total",
                        failed: "infer_trace_spans_failed_total")
    let registry: MetricsRegistry
    let labels: [MetricLabel]
    let exported: MetricsRegistry.Counter
    let dropped: MetricsRegistry.Counter
    let failed: MetricsRegistry.Counter

    init(registry: MetricsRegistry, daemon: String) {
        self.registry = registry
        labels = [MetricLabel("daemon", daemon)]
        exported = registry.counter(Self.names.exported, help: "Spans the OTLP collector took, by daemon.", series: [labels])
        dropped = registry.counter(Self.names.dropped, help: "Spans dropped because the export queue was full (OTEL_BSP_MAX_QUEUE_SIZE), by daemon.",
                                   series: [labels])
        failed = registry.counter(Self.names.failed,
                                  help: "Spans in exports the collector did not take (unreachable, refused, timed out), by daemon.",
                                  series: [labels])
    }

    /// Raises each counter to the processor's count (counters only go up; a process has one tracer).
    func update(from tracer: Tracer) {
        guard let counts = tracer.processor?.exportCounts else { return }
        for (counter, name, value) in [(exported, Self.names.exported, counts.exported), (dropped, Self.names.dropped, counts.dropped),
                                       (failed, Self.names.failed, counts.failed)] {
            let current = registry.value(name, labels)
            if Double(value) > current { counter.increment(labels, by: Double(value) - current) }
        }
    }
}
