/// A W3C trace id: 16 bytes, never all zero (docs/PROTOCOL.md, "Trace context").
public struct TraceID: Sendable, Hashable {
    /// The first 8 bytes, big-endian.
    public let high: UInt64
    /// The last 8 bytes, big-endian.
    public let low: UInt64

    /// A trace id from its two halves; nil when both are zero (W3C's invalid id).
    public init?(high: UInt64, low: UInt64) {
        guard high != 0 || low != 0 else { return nil }
        self.high = high
        self.low = low
    }

    /// The 16 bytes, big-endian.
    public var bytes: [UInt8] { TraceHex.bigEndianBytes(high) + TraceHex.bigEndianBytes(low) }

    /// 32 lower-case hex digits, as `traceparent` and logs write it.
    public var hex: String { TraceHex.hex(high) + TraceHex.hex(low) }
}

/// A W3C span id (a trace's `parent-id`): 8 bytes, never all zero.
public struct SpanID: Sendable, Hashable {
    /// The 8 bytes, big-endian.
    public let value: UInt64

    /// A span id; nil when it is zero (W3C's invalid id).
    public init?(_ value: UInt64) {
        guard value != 0 else { return nil }
        self.value = value
    }

    /// The 8 bytes, big-endian.
    public var bytes: [UInt8] { TraceHex.bigEndianBytes(value) }

    /// 16 lower-case hex digits.
    public var hex: String { TraceHex.hex(value) }
}

/// What one call carries of a distributed trace: the trace, the caller's span (the parent of whatever
/// the callee records), the W3C trace flags and the vendors' `tracestate`.
///
/// IPC carries it in a REQUEST's trace-context block (docs/PROTOCOL.md); within a daemon it travels as
/// the task-local ``current``, which ``IPCClient`` reads when it writes a request, so a handler that
/// calls another daemon passes the trace on without naming it.
public struct TraceContext: Sendable, Hashable {
    /// The trace-flags bit that says the caller records (samples) this trace.
    public static let sampledFlag: UInt8 = 0x01
    /// Longest `tracestate` carried (W3C allows 32 members; 512 bytes is what it asks to propagate).
    public static let maxStateLength = 512

    /// The trace.
    public var traceID: TraceID
    /// The caller's span: the parent of the callee's spans.
    public var spanID: SpanID
    /// W3C trace flags (bit 0: sampled).
    public var flags: UInt8
    /// The `tracestate` header's value as received (empty: none).
    public var state: String

    /// Creates a context.
    public init(traceID: TraceID, spanID: SpanID, flags: UInt8, state: String = "") {
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags
        self.state = state
    }

    /// Whether the caller records this trace.
    public var isSampled: Bool { flags & Self.sampledFlag != 0 }

    /// The trace context of the task: set by the IPC server for a call's handler, and by whoever starts
    /// a span for the work under it; read by ``IPCClient`` when it writes a request.
    @TaskLocal public static var current: TraceContext?
}

extension TraceContext: WireCodable {
    /// Bytes of the fixed part of the block: trace id, span id, flags.
    static let fixedSize = 16 + 8 + 1

    /// Decodes a trace-context block: `length u16`, then `trace-id 16 · parent-id 8 · flags u8 ·
    /// tracestate (u16 length + ASCII)`, and whatever a later revision appends (skipped).
    public init(from reader: inout WireReader) throws {
        let length = Int(try reader.readUInt16())
        guard length >= Self.fixedSize + 2, length <= reader.remaining else {
            throw WireError.invalidValue("trace-context block length", UInt64(length))
        }
        var block = WireReader(try reader.readRawBytes(count: length))
        let high = try block.readUInt64(), low = try block.readUInt64(), span = try block.readUInt64()
        guard let traceID = TraceID(high: high, low: low) else { throw WireError.invalidValue("trace id", 0) }
        guard let spanID = SpanID(span) else { throw WireError.invalidValue("parent span id", 0) }
        self.traceID = traceID
        self.spanID = spanID
        flags = try block.readUInt8()
        let stateLength = Int(try block.readUInt16())
        guard stateLength <= Self.maxStateLength else {
            throw WireError.lengthExceedsMaximum("tracestate", length: UInt64(stateLength), maximum: Self.maxStateLength)
        }
        let state = try block.readRawBytes(count: stateLength)
        guard state.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw WireError.invalidValue("tracestate byte", UInt64(state.first { $0 < 0x20 || $0 >= 0x7F } ?? 0))
        }
        self.state = String(decoding: state, as: UTF8.self)
    }

    /// Encodes the block (a `tracestate` over ``maxStateLength`` bytes is left out, as W3C allows).
    public func encode(to writer: inout WireWriter) {
        let state = self.state.utf8.count <= Self.maxStateLength ? Array(self.state.utf8) : []
        writer.writeUInt16(UInt16(Self.fixedSize + 2 + state.count))
        writer.writeUInt64(traceID.high)
        writer.writeUInt64(traceID.low)
        writer.writeUInt64(spanID.value)
        writer.writeUInt8(flags)
        writer.writeUInt16(UInt16(state.count))
        writer.writeRawBytes(state)
    }
}

/// Hex and byte helpers of the ids.
enum TraceHex {
    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.utf8.count) + digits
    }

    static func bigEndianBytes(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}
