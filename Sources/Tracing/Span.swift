import Glibc
import Synchronization
import Wire

/// An attribute's value, as OTLP's `AnyValue` carries it.
public enum AttributeValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case strings([String])
}

extension AttributeValue {
    /// An integer attribute.
    public static func int(_ value: Int) -> AttributeValue { .int(Int64(value)) }
}

/// What a span stands for, as OTLP's `SpanKind` says it.
public enum SpanKind: UInt8, Sendable {
    case internal_ = 1
    case server = 2
    case client = 3
    case producer = 4
    case consumer = 5
}

/// How a span ended: unset (the default), ok, or an error with a message.
public enum SpanStatus: Sendable, Equatable {
    case unset
    case ok
    case error(String)
}

/// One finished span, as it is queued for export.
public struct SpanData: Sendable {
    public var traceID: TraceID
    public var spanID: SpanID
    public var parentSpanID: SpanID?
    public var traceState: String
    public var flags: UInt8
    public var name: String
    public var kind: SpanKind
    /// Wall-clock nanoseconds since the epoch.
    public var start: UInt64
    public var end: UInt64
    public var attributes: [(key: String, value: AttributeValue)]
    public var status: SpanStatus
}

/// Nanoseconds since the epoch (spans carry wall-clock times; durations are what matter, and within a
/// span both ends come from the same clock).
public func wallClockNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// A span in progress: set attributes and a status, then ``end(at:)`` it once, which queues it for
/// export when it is recorded (sampled, with an exporter). A span that is not recorded still has a
/// context — its own span id, the trace's flags — to pass on, so the trace stays whole downstream.
public final class Span: Sendable {
    /// This span as a parent: its trace, its own id, the flags and tracestate to propagate.
    public let context: TraceContext
    /// The span it is a child of; nil for a root.
    public let parentSpanID: SpanID?
    public let name: String
    public let kind: SpanKind
    /// Whether attributes and the end are kept for export.
    public let isRecording: Bool
    private let processor: BatchSpanProcessor?
    private let state: Mutex<State>

    private struct State {
        var start: UInt64
        var attributes: [(key: String, value: AttributeValue)] = []
        var status = SpanStatus.unset
        var ended = false
    }

    init(context: TraceContext, parentSpanID: SpanID?, name: String, kind: SpanKind, start: UInt64,
         processor: BatchSpanProcessor?) {
        self.context = context
        self.parentSpanID = parentSpanID
        self.name = name
        self.kind = kind
        self.processor = processor
        isRecording = processor != nil && context.isSampled
        state = Mutex(State(start: start))
    }

    /// The span of the task: set by whoever runs work inside a span (the service shell for a traced call),
    /// so the work can add attributes to it.
    @TaskLocal public static var current: Span?

    /// The trace id in hex, for logs.
    public var traceIDHex: String { context.traceID.hex }
    /// This span's id in hex, for logs.
    public var spanIDHex: String { context.spanID.hex }

    /// Sets an attribute (a later value for the same key replaces the earlier one).
    public func set(_ key: String, _ value: AttributeValue) {
        guard isRecording else { return }
        state.withLock { state in
            if let index = state.attributes.firstIndex(where: { $0.key == key }) {
                state.attributes[index].value = value
            } else {
                state.attributes.append((key, value))
            }
        }
    }

    /// Sets several attributes.
    public func set(_ attributes: KeyValuePairs<String, AttributeValue>) {
        guard isRecording else { return }
        for (key, value) in attributes { set(key, value) }
    }

    /// Sets the status: an error with its description, or ok.
    public func setStatus(_ status: SpanStatus) {
        guard isRecording else { return }
        state.withLock { $0.status = status }
    }

    /// Moves the start (for a span whose beginning is known only afterwards, such as a queue wait).
    public func setStart(_ nanoseconds: UInt64) {
        state.withLock { $0.start = nanoseconds }
    }

    /// Ends the span and, when recorded, queues it for export; only the first call counts.
    /// - Parameter nanoseconds: The end, in wall-clock nanoseconds (default: now).
    public func end(at nanoseconds: UInt64 = wallClockNanoseconds()) {
        let data = state.withLock { state -> SpanData? in
            guard !state.ended else { return nil }
            state.ended = true
            guard isRecording else { return nil }
            return SpanData(
                traceID: context.traceID, spanID: context.spanID, parentSpanID: parentSpanID, traceState: context.state,
                flags: context.flags, name: name, kind: kind, start: state.start, end: max(nanoseconds, state.start),
                attributes: state.attributes, status: state.status)
        }
        if let data { processor?.enqueue(data) }
    }
}
