import Synchronization
import Wire

/// A daemon's tracer: starts spans under a parent context (or a new trace), samples them, and hands the
/// recorded ones to the ``BatchSpanProcessor``. One per process, installed as ``global`` at start.
public final class Tracer: Sendable {
    /// The service's name (`OTEL_SERVICE_NAME`, default `infer-<daemon>`).
    public let serviceName: String
    public let sampler: Sampler
    /// Where recorded spans go; nil when nothing is exported (no endpoint, or tracing disabled).
    public let processor: BatchSpanProcessor?

    /// A tracer.
    /// - Parameters:
    ///   - serviceName: `service.name` of every span.
    ///   - sampler: Which traces are recorded.
    ///   - processor: The export queue; nil records nothing (contexts still propagate).
    public init(serviceName: String, sampler: Sampler = .parentBased(root: .alwaysOn), processor: BatchSpanProcessor? = nil) {
        self.serviceName = serviceName
        self.sampler = sampler
        self.processor = processor
    }

    /// A tracer that records nothing.
    public static let disabled = Tracer(serviceName: "infer", sampler: .parentBased(root: .alwaysOff))

    private static let installed = Mutex<Tracer>(Tracer.disabled)

    /// The process's tracer (``disabled`` until the daemon runtime installs the configured one).
    public static var global: Tracer {
        get { installed.withLock { $0 } }
        set { installed.withLock { $0 = newValue } }
    }

    /// Whether spans are exported at all.
    public var isExporting: Bool { processor != nil }

    /// Starts a span.
    /// - Parameters:
    ///   - name: The span's name (`POST /v1/chat/completions`, `chat smollm2`).
    ///   - kind: Server, client or internal.
    ///   - parent: The caller's context; nil starts a new trace.
    ///   - start: When it began, in wall-clock nanoseconds (default: now).
    ///   - attributes: Attributes known at the start (they count for sampling in OTel; here only for the record).
    /// - Returns: The span; ``Span/end(at:)`` it.
    public func startSpan(_ name: String, kind: SpanKind = .internal_, parent: TraceContext?, start: UInt64 = wallClockNanoseconds(),
                          attributes: KeyValuePairs<String, AttributeValue> = [:]) -> Span {
        let traceID = parent?.traceID ?? TraceIDs.newTraceID()
        let sampled = sampler.shouldSample(traceID: traceID, parent: parent)
        var flags = (parent?.flags ?? 0) & ~TraceContext.sampledFlag
        if sampled { flags |= TraceContext.sampledFlag }
        let context = TraceContext(traceID: traceID, spanID: TraceIDs.newSpanID(), flags: flags, state: parent?.state ?? "")
        let span = Span(context: context, parentSpanID: parent?.spanID, name: name, kind: kind, start: start, processor: processor)
        span.set(attributes)
        return span
    }

    /// Starts a span only when there is a parent: how a daemon behind frontd records its part of a trace
    /// without ever starting traces of its own (a health probe, a call from a caller with tracing off).
    /// - Returns: The span, or nil when `parent` is nil.
    public func startChildSpan(_ name: String, kind: SpanKind = .internal_, parent: TraceContext?,
                               start: UInt64 = wallClockNanoseconds(),
                               attributes: KeyValuePairs<String, AttributeValue> = [:]) -> Span? {
        guard let parent else { return nil }
        return startSpan(name, kind: kind, parent: parent, start: start, attributes: attributes)
    }

    /// Runs `body` inside a span under the task's current context, with the span as the current context
    /// meanwhile (so calls to other daemons are its children); ends the span after, with an error status
    /// when `body` throws.
    public func withSpan<T>(_ name: String, kind: SpanKind = .internal_, attributes: KeyValuePairs<String, AttributeValue> = [:],
                            _ body: (Span) async throws -> T) async rethrows -> T {
        let span = startSpan(name, kind: kind, parent: TraceContext.current, attributes: attributes)
        defer { span.end() }
        do {
            return try await TraceContext.$current.withValue(span.context) { try await body(span) }
        } catch {
            span.setStatus(.error("\(error)"))
            throw error
        }
    }

    /// Exports what is queued and stops the processor's thread, waiting at most `timeout`.
    public func shutdown(timeout: Duration) {
        processor?.shutdown(timeout: timeout)
    }
}
