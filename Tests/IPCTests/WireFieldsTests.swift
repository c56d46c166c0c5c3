import Testing

import Metrics
import Services
import Wire

/// A message with one field of every shape, to hold ``WireFields`` to the layouts of docs/PROTOCOL.md.
private struct EveryShape: WireFields, Equatable {
    enum Kind: UInt16 { case a = 1, b = 700 }

    var u8: UInt8 = 0
    var u16: UInt16 = 0
    var u32: UInt32 = 0
    var u64: UInt64 = 0
    var i32: Int32 = 0
    var i64: Int64 = 0
    var f32: Float = 0
    var f64: Double = 0
    var flag = false
    var text = ""
    var blob: [UInt8] = []
    var seed: UInt64?
    var words: [String] = []
    var vectors: [[Float]] = []
    var kind = Kind.a
    var nested = LimitProtocol.LimitStatus()
    var route: GenerationProtocol.Route?

    mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&u8, .uint8)
        try v.field(&u16, .uint16)
        try v.field(&u32, .uint32)
        try v.field(&u64, .uint64)
        try v.field(&i32, .int32)
        try v.field(&i64, .int64)
        try v.field(&f32, .float32)
        try v.field(&f64, .float64)
        try v.field(&flag, .bool)
        try v.field(&text, .string(maxLength: 8))
        try v.field(&blob, .bytes(maxLength: 4))
        try v.field(&seed, .optional(.uint64))
        try v.field(&words, .array(.string(maxLength: 3), maxCount: 2))
        try v.field(&vectors, .array(.array(.float32, maxCount: 3, minElementSize: 4), maxCount: 2))
        try v.field(&kind, .rawValue(Kind.self, name: "kind"))
        try v.field(&nested, .nested(LimitProtocol.LimitStatus.self))
        try v.field(&route, .trailing(.nested(GenerationProtocol.Route.self)))
    }

    static let full = EveryShape(
        u8: 0xAB, u16: 0xBEEF, u32: 0xDEAD_BEEF, u64: 0x0102_0304_0506_0708, i32: -2, i64: -3, f32: 1.5, f64: -0.25,
        flag: true, text: "héllo", blob: [9, 8], seed: 42, words: ["ab", "c"], vectors: [[1, 2], []], kind: .b,
        nested: LimitProtocol.LimitStatus(limit: 10, remaining: 9, resetMs: 8),
        route: GenerationProtocol.Route(deployment: "d", model: "m"))

    /// `full` written field by field with the writer's own calls: what the one description must produce.
    static let fullBytes: [UInt8] = {
        var w = WireWriter()
        w.writeUInt8(0xAB)
        w.writeUInt16(0xBEEF)
        w.writeUInt32(0xDEAD_BEEF)
        w.writeUInt64(0x0102_0304_0506_0708)
        w.writeInt32(-2)
        w.writeInt64(-3)
        w.writeFloat32(1.5)
        w.writeFloat64(-0.25)
        w.writeBool(true)
        w.writeString("héllo")
        w.writeBytes([9, 8])
        w.writeOptional(UInt64(42)) { $0.writeUInt64($1) }
        w.writeArray(["ab", "c"]) { $0.writeString($1) }
        w.writeArray([[1, 2], []] as [[Float]]) { w, v in w.writeArray(v) { $0.writeFloat32($1) } }
        w.writeUInt16(700)
        for value: UInt32 in [10, 9, 8] { w.writeUInt32(value) }
        w.writeString("d")
        w.writeString("m")
        return w.bytes
    }()
}

/// Counts the fields a message visits (a third visitor, besides the reader and the writer).
private struct FieldCounter: WireFieldVisitor {
    typealias Failure = Never
    var count = 0
    mutating func field<S: WireShape>(_ value: inout S.Value, _ shape: S) { count += 1 }
}

@Suite struct WireFieldsTests {
    @Test("one list of fields writes what the writer's calls write, and reads it back")
    func layout() throws {
        #expect(EveryShape.full.encoded() == EveryShape.fullBytes)
        #expect(try EveryShape(decoding: EveryShape.fullBytes) == EveryShape.full)
        #expect(try EveryShape(decoding: EveryShape().encoded()) == EveryShape())
    }

    @Test("every shorter payload is refused with a WireError, except the one that ends before the trailing field")
    func prefixes() throws {
        let withoutRoute = EveryShape.fullBytes.count - 10  // the Route: two strings of one byte
        for length in 0..<EveryShape.fullBytes.count {
            let prefix = Array(EveryShape.fullBytes.prefix(length))
            if length == withoutRoute {
                var expected = EveryShape.full
                expected.route = nil
                #expect(try EveryShape(decoding: prefix) == expected)
            } else {
                #expect(throws: WireError.self, "prefix of \(length) bytes") { try EveryShape(decoding: prefix) }
            }
        }
    }

    /// `full`'s bytes with the range at `offset` replaced.
    static func patched(_ offset: Int, _ bytes: [UInt8]) -> [UInt8] {
        var payload = EveryShape.fullBytes
        payload.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        return payload
    }

    // Offsets in `fullBytes`: the bool at 39 (after 1+2+4+8+4+8+4+8 bytes), the string's length at 40, the
    // blob's at 50, the seed's tag at 56, the words' count at 65, the first vector's count at 84, the kind at 100.
    @Test("each limit is checked before anything is read or allocated")
    func limits() throws {
        #expect(throws: WireError.invalidValue("bool value", 2)) { try EveryShape(decoding: Self.patched(39, [2])) }
        #expect(throws: WireError.lengthExceedsMaximum("string length", length: 9, maximum: 8)) {
            try EveryShape(decoding: Self.patched(40, [0, 0, 0, 9]))
        }
        #expect(throws: WireError.lengthExceedsMaximum("bytes length", length: 5, maximum: 4)) {
            try EveryShape(decoding: Self.patched(50, [0, 0, 0, 5]))
        }
        #expect(throws: WireError.invalidValue("optional tag", 3)) { try EveryShape(decoding: Self.patched(56, [3])) }
        #expect(throws: WireError.lengthExceedsMaximum("element count", length: 3, maximum: 2)) {
            try EveryShape(decoding: Self.patched(65, [0, 0, 0, 3]))
        }
        // A count of floats (4 bytes each) the payload cannot hold is refused before reserving room.
        #expect(throws: WireError.invalid("element count 3 (at least 4 bytes each) exceeds remaining 8 bytes")) {
            try EveryShape(decoding: Array(Self.patched(84, [0, 0, 0, 3]).prefix(96)))
        }
        #expect(throws: WireError.invalidValue("kind", 2)) { try EveryShape(decoding: Self.patched(100, [0, 2])) }
    }

    @Test("every service message visits each of its stored properties (none left off the wire)")
    func everyFieldVisited() {
        func count<M: WireFields>(_: M.Type) -> (visited: Int, stored: Int) {
            var counter = FieldCounter()
            var message = M()
            message.visitFields(&counter)
            return (counter.count, Mirror(reflecting: message).children.count)
        }
        let messages: [any WireFields.Type] = [
            LimitProtocol.Admit.self, LimitProtocol.AdmitReply.self, LimitProtocol.Settle.self, LimitProtocol.Budget.self,
            LimitProtocol.LimitStatus.self, LimitProtocol.BudgetStatus.self, LimitProtocol.Reserve.self,
            LimitProtocol.ReserveReply.self, LimitProtocol.Commit.self, LimitProtocol.Usage.self, LimitProtocol.UsageReply.self,
            LimitProtocol.SpendList.self, LimitProtocol.KeySpend.self, LimitProtocol.SpendListReply.self, LimitProtocol.Limits.self,
            CacheProtocol.Get.self, CacheProtocol.GetReply.self, CacheProtocol.Put.self, CacheProtocol.SemanticKey.self,
            CacheProtocol.SemanticGet.self, CacheProtocol.SemanticGetReply.self, CacheProtocol.Claim.self,
            CacheProtocol.ClaimReply.self, CacheProtocol.Clear.self, CacheProtocol.ClearReply.self, CacheProtocol.Stats.self,
            CacheProtocol.StatsReply.self, GenerationProtocol.Message.self, GenerationProtocol.Parameters.self,
            GenerationProtocol.Generate.self, GenerationProtocol.Chunk.self, GenerationProtocol.Done.self,
            GenerationProtocol.Embed.self, GenerationProtocol.EmbedReply.self, GenerationProtocol.Route.self,
            GenerationProtocol.Health.self, GenerationProtocol.HealthReply.self, MetricsProtocol.Collect.self,
            MetricsProtocol.CollectReply.self, MetricsSnapshot.self, MetricFamily.self, MetricLabel.self,
            MetricExemplar.self, ExemplarTrace.self, HelloPayload.self, ErrorPayload.self,
        ]
        for message in messages {
            let (visited, stored) = count(message)
            #expect(visited == stored, "\(message) visits \(visited) of its \(stored) stored properties")
        }
        // The one field kept off the wire on purpose: a sample's exemplars travel after the families.
        #expect(count(MetricSample.self) == (4, 5))
    }
}
