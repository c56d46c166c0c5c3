/// Encodes spans as an OTLP `ExportTraceServiceRequest` in protobuf's binary format, by hand: only the
/// messages and fields infer writes (opentelemetry-proto, trace/v1 and common/v1):
///
/// ```
/// ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
/// ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
/// Resource { repeated KeyValue attributes = 1; }
/// ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
/// InstrumentationScope { string name = 1; string version = 2; }
/// Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
///        string name = 5; SpanKind kind = 6; fixed64 start_time_unix_nano = 7;
///        fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9; Status status = 15;
///        fixed32 flags = 16; }
/// Status { string message = 2; StatusCode code = 3; }           (1 ok, 2 error)
/// KeyValue { string key = 1; AnyValue value = 2; }
/// AnyValue { oneof { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
///                    double double_value = 4; ArrayValue array_value = 5; } }
/// ArrayValue { repeated AnyValue values = 1; }
/// ```
public enum OTLPTraceEncoder {
    /// The request body for `spans` of one resource.
    /// - Parameters:
    ///   - spans: The spans.
    ///   - resource: The resource's attributes (`service.name`, ...).
    ///   - scope: The instrumentation scope's name and version.
    public static func encode(_ spans: [SpanData], resource: [(key: String, value: AttributeValue)],
                              scope: (name: String, version: String)) -> [UInt8] {
        var scopeSpans = ProtobufWriter()
        scopeSpans.message(1) { w in
            w.string(1, scope.name)
            w.string(2, scope.version)
        }
        for span in spans {
            scopeSpans.message(2) { encodeSpan(span, to: &$0) }
        }
        var resourceSpans = ProtobufWriter()
        resourceSpans.message(1) { w in
            for attribute in resource { w.message(1) { encodeKeyValue(attribute, to: &$0) } }
        }
        resourceSpans.bytes(2, scopeSpans.bytes)
        var request = ProtobufWriter()
        request.bytes(1, resourceSpans.bytes)
        return request.bytes
    }

    static func encodeSpan(_ span: SpanData, to w: inout ProtobufWriter) {
        w.bytes(1, span.traceID.bytes)
        w.bytes(2, span.spanID.bytes)
        if !span.traceState.isEmpty { w.string(3, span.traceState) }
        if let parent = span.parentSpanID { w.bytes(4, parent.bytes) }
        w.string(5, span.name)
        w.varint(6, UInt64(span.kind.rawValue))
        w.fixed64(7, span.start)
        w.fixed64(8, span.end)
        for attribute in span.attributes { w.message(9) { encodeKeyValue(attribute, to: &$0) } }
        switch span.status {
        case .unset: break
        case .ok: w.message(15) { $0.varint(3, 1) }
        case .error(let message):
            w.message(15) { w in
                w.string(2, message)
                w.varint(3, 2)
            }
        }
        // SpanFlags: the W3C trace flags in the low byte; 0x100 says whether the parent was remote is known.
        w.fixed32(16, UInt32(span.flags))
    }

    static func encodeKeyValue(_ attribute: (key: String, value: AttributeValue), to w: inout ProtobufWriter) {
        w.string(1, attribute.key)
        w.message(2) { encodeAnyValue(attribute.value, to: &$0) }
    }

    static func encodeAnyValue(_ value: AttributeValue, to w: inout ProtobufWriter) {
        switch value {
        case .string(let text): w.string(1, text, always: true)
        case .bool(let flag): w.varint(2, flag ? 1 : 0, always: true)
        case .int(let number): w.varint(3, UInt64(bitPattern: number), always: true)
        case .double(let number): w.fixed64(4, number.bitPattern, always: true)
        case .strings(let texts):
            w.message(5) { array in
                for text in texts { array.message(1) { $0.string(1, text, always: true) } }
            }
        }
    }
}

/// The protobuf wire format's writer: tags, varints, fixed-width numbers and length-delimited fields.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func tag(_ field: Int, _ wireType: UInt64) {
        appendVarint(UInt64(field) << 3 | wireType)
    }

    private mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// A varint field (proto3 leaves a zero out unless `always`: a oneof member must be present).
    mutating func varint(_ field: Int, _ value: UInt64, always: Bool = false) {
        guard value != 0 || always else { return }
        tag(field, 0)
        appendVarint(value)
    }

    mutating func fixed64(_ field: Int, _ value: UInt64, always: Bool = false) {
        guard value != 0 || always else { return }
        tag(field, 1)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func fixed32(_ field: Int, _ value: UInt32) {
        guard value != 0 else { return }
        tag(field, 5)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, 2)
        appendVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ field: Int, _ value: String, always: Bool = false) {
        guard !value.isEmpty || always else { return }
        bytes(field, Array(value.utf8))
    }

    /// A nested message, written by `body`.
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        body(&nested)
        bytes(field, nested.bytes)
    }
}
