import Wire

/// New trace and span ids from the system's cryptographic generator (`getrandom(2)` behind
/// `SystemRandomNumberGenerator`), so ids are unguessable and never repeat in practice.
public enum TraceIDs {
    /// A new, valid (non-zero) trace id.
    public static func newTraceID() -> TraceID {
        var generator = SystemRandomNumberGenerator()
        while true {
            if let id = TraceID(high: generator.next(), low: generator.next()) { return id }
        }
    }

    /// A new, valid (non-zero) span id.
    public static func newSpanID() -> SpanID {
        var generator = SystemRandomNumberGenerator()
        while true {
            if let id = SpanID(generator.next()) { return id }
        }
    }
}
