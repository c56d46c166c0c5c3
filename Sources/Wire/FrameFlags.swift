/// The bits of a frame header's `flags` field. A peer sets one only when the connection's HELLO
/// exchange agreed on the ``ProtocolFeatures`` that defines it, so a peer from before it never sees one
/// (it would refuse the frame).
public enum FrameFlags {
    /// On a REQUEST: the payload starts with a trace-context block (``TraceContext``), before the
    /// timeout. Defined by ``ProtocolFeatures/traceContext``.
    public static let traceContext: UInt16 = 0x0001

    /// Every bit this implementation understands.
    public static let known: UInt16 = traceContext
}

/// The optional features a HELLO offers and a HELLO_ACK agrees to (a `u32` of bits after the version).
public enum ProtocolFeatures {
    /// REQUESTs may carry W3C trace context (``FrameFlags/traceContext``).
    public static let traceContext: UInt32 = 0x0000_0001

    /// Every feature this implementation has.
    public static let supported: UInt32 = traceContext
}
