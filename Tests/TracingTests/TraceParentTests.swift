import Testing
import Tracing
import Wire

@Suite("W3C traceparent and tracestate")
struct TraceParentTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test("a valid traceparent parses and formats back the same")
    func roundTrip() throws {
        let context = try #require(TraceParent.parse(Self.valid))
        #expect(context.traceID.hex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.spanID.hex == "00f067aa0ba902b7")
        #expect(context.isSampled)
        #expect(TraceParent.format(context) == Self.valid)
        #expect(TraceParent.parse(" \(Self.valid)\t") != nil)
        // Unsampled, and other flag bits are not propagated.
        let other = try #require(TraceParent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe"))
        #expect(!other.isSampled)
        #expect(TraceParent.format(other).hasSuffix("-00"))
    }

    @Test("a malformed traceparent is refused", arguments: [
        "", "00", "garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",   // version 00 is exactly 55 characters
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",         // version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",         // all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",         // all-zero parent id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",         // upper case
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",         // misplaced dash
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
    ])
    func malformed(_ value: String) {
        #expect(TraceParent.parse(value) == nil)
    }

    @Test("a later version may append fields after a dash")
    func laterVersion() {
        #expect(TraceParent.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next") != nil)
        #expect(TraceParent.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x") == nil)
    }

    @Test("tracestate: valid values kept (empty members dropped), invalid ones discarded")
    func traceState() {
        #expect(TraceState.validated("congo=t61rcWkgMzE") == "congo=t61rcWkgMzE")
        #expect(TraceState.validated("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,") == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        #expect(TraceState.validated("tenant1@vendor=x") == "tenant1@vendor=x")
        #expect(TraceState.validated("") == "")
        #expect(TraceState.validated("Upper=x") == nil)
        #expect(TraceState.validated("novalue") == nil)
        #expect(TraceState.validated("a=b,a=c") == nil)
        #expect(TraceState.validated("a=b=c") == nil)
        #expect(TraceState.validated("a=\u{1}") == nil)
        #expect(TraceState.validated((0..<33).map { "k\($0)=v" }.joined(separator: ",")) == nil)
        #expect(TraceState.validated("a=" + String(repeating: "x", count: 600)) == nil)
        // Given with a valid traceparent, a bad tracestate is dropped, the parent kept.
        let context = TraceParent.parse(Self.valid, state: "BAD")
        #expect(context?.state == "")
    }

    @Test("samplers: ratio by trace id (the same answer in every daemon), parent-based follows the caller")
    func samplers() throws {
        let low = try #require(TraceID(high: 1, low: 0x1000_0000_0000_0000))
        let high = try #require(TraceID(high: 1, low: 0xF000_0000_0000_0000))
        let ratio = try #require(Sampler.named("traceidratio", argument: 0.5))
        #expect(ratio.shouldSample(traceID: low, parent: nil))
        #expect(!ratio.shouldSample(traceID: high, parent: nil))
        let parentBased = try #require(Sampler.named("PARENTBASED_TRACEIDRATIO", argument: 0.5))
        let sampledParent = TraceContext(traceID: high, spanID: SpanID(7)!, flags: 1)
        #expect(parentBased.shouldSample(traceID: high, parent: sampledParent))
        #expect(!parentBased.shouldSample(traceID: low, parent: TraceContext(traceID: low, spanID: SpanID(7)!, flags: 0)))
        #expect(Sampler.named("always_off", argument: 1)?.shouldSample(traceID: low, parent: sampledParent) == false)
        #expect(Sampler.named("sometimes", argument: 1) == nil)
        // Over many random ids the ratio holds roughly (a wide band: this checks the arithmetic, not luck).
        let sampled = (0..<4000).filter { _ in ratio.shouldSample(traceID: TraceIDs.newTraceID(), parent: nil) }.count
        #expect((1600...2400).contains(sampled))
    }
}
