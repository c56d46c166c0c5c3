import Testing

@testable import IPC
import Wire

/// A message using every codec helper, for round trips.
struct Everything: WireMessage, Equatable {
    static let type: UInt16 = 42

    var u8: UInt8
    var u16: UInt16
    var u32: UInt32
    var u64: UInt64
    var i32: Int32
    var i64: Int64
    var f32: Float
    var f64: Double
    var flag: Bool
    var text: String
    var blob: [UInt8]
    var maybe: String?
    var numbers: [UInt32]

    init(from reader: inout WireReader) throws {
        u8 = try reader.readUInt8()
        u16 = try reader.readUInt16()
        u32 = try reader.readUInt32()
        u64 = try reader.readUInt64()
        i32 = try reader.readInt32()
        i64 = try reader.readInt64()
        f32 = try reader.readFloat32()
        f64 = try reader.readFloat64()
        flag = try reader.readBool()
        text = try reader.readString(maxLength: 1024)
        blob = try reader.readBytes(maxLength: 1024)
        maybe = try reader.readOptional { try $0.readString(maxLength: 64) }
        numbers = try reader.readArray(maxCount: 100, minElementSize: 4) { try $0.readUInt32() }
    }

    init(
        u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64, i32: Int32, i64: Int64, f32: Float, f64: Double,
        flag: Bool, text: String, blob: [UInt8], maybe: String?, numbers: [UInt32]
    ) {
        self.u8 = u8
        self.u16 = u16
        self.u32 = u32
        self.u64 = u64
        self.i32 = i32
        self.i64 = i64
        self.f32 = f32
        self.f64 = f64
        self.flag = flag
        self.text = text
        self.blob = blob
        self.maybe = maybe
        self.numbers = numbers
    }

    func encode(to writer: inout WireWriter) {
        writer.writeUInt8(u8)
        writer.writeUInt16(u16)
        writer.writeUInt32(u32)
        writer.writeUInt64(u64)
        writer.writeInt32(i32)
        writer.writeInt64(i64)
        writer.writeFloat32(f32)
        writer.writeFloat64(f64)
        writer.writeBool(flag)
        writer.writeString(text)
        writer.writeBytes(blob)
        writer.writeOptional(maybe) { $0.writeString($1) }
        writer.writeArray(numbers) { $0.writeUInt32($1) }
    }
}

@Suite("IPC wire codec")
struct WireCodecTests {
    static let samples: [Everything] = [
        Everything(
            u8: 0, u16: 0, u32: 0, u64: 0, i32: 0, i64: 0, f32: 0, f64: 0, flag: false, text: "", blob: [],
            maybe: nil, numbers: []),
        Everything(
            u8: .max, u16: .max, u32: .max, u64: .max, i32: .min, i64: .min, f32: -1.5, f64: .pi, flag: true,
            text: "héllo, 世界 👋", blob: [0, 1, 2, 255], maybe: "present", numbers: [1, 2, 3, .max]),
        Everything(
            u8: 7, u16: 0x1234, u32: 0xDEAD_BEEF, u64: 1 << 40, i32: -2, i64: Int64.max, f32: .infinity,
            f64: -0.0, flag: true, text: String(repeating: "x", count: 1000), blob: Array(repeating: 9, count: 1000),
            maybe: "", numbers: Array(0..<100)),
    ]

    @Test("round trips every helper", arguments: samples)
    func roundTrip(_ message: Everything) throws {
        let payload = message.encoded()
        let decoded = try Everything(decoding: payload)
        #expect(decoded == message)
        #expect(decoded.encoded() == payload)
    }

    @Test("is big-endian")
    func bigEndian() {
        var writer = WireWriter()
        writer.writeUInt16(0x0102)
        writer.writeUInt32(0x0304_0506)
        writer.writeInt64(-2)
        writer.writeFloat32(1.0)
        writer.writeString("hi")
        #expect(writer.bytes == [
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
            0x3F, 0x80, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x02, 0x68, 0x69,
        ])
    }

    @Test("NaN survives as its bit pattern")
    func nan() throws {
        var writer = WireWriter()
        writer.writeFloat64(.nan)
        var reader = WireReader(writer.bytes)
        #expect(try reader.readFloat64().isNaN)
    }

    /// Every proper prefix of a valid payload fails with a WireError, never a trap.
    @Test("truncated payloads throw", arguments: samples)
    func truncated(_ message: Everything) {
        let payload = message.encoded()
        for length in 0..<payload.count {
            #expect(throws: WireError.self) {
                _ = try Everything(decoding: Array(payload[0..<length]))
            }
        }
    }

    @Test("trailing bytes are refused")
    func trailing() throws {
        let payload = Self.samples[0].encoded() + [0]
        #expect(throws: WireError.trailingBytes(count: 1)) {
            _ = try Everything(decoding: payload)
        }
    }

    @Test("string length beyond the payload names both numbers")
    func stringBeyondRemaining() {
        var writer = WireWriter()
        writer.writeUInt32(70000)
        writer.writeRawBytes(Array(repeating: 0x61, count: 12))
        var reader = WireReader(writer.bytes)
        do {
            _ = try reader.readString()
            Issue.record("expected an error")
        } catch let error as WireError {
            #expect(error.description == "string length 70000 exceeds remaining 12 bytes")
            #expect(reader.offset == 0)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("string length above the maximum is refused before reading")
    func stringAboveMaximum() {
        var writer = WireWriter()
        writer.writeString(String(repeating: "a", count: 100))
        var reader = WireReader(writer.bytes)
        #expect(throws: WireError.lengthExceedsMaximum("string length", length: 100, maximum: 10)) {
            _ = try reader.readString(maxLength: 10)
        }
    }

    @Test("invalid UTF-8 is refused", arguments: [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0x61, 0x80]] as [[UInt8]])
    func invalidUTF8(_ raw: [UInt8]) {
        var writer = WireWriter()
        writer.writeBytes(raw)
        var reader = WireReader(writer.bytes)
        #expect(throws: WireError.invalidUTF8(offset: 4, length: raw.count)) {
            _ = try reader.readString()
        }
    }

    @Test("bool and optional tags other than 0 and 1 are refused", arguments: [2, 7, 255] as [UInt8])
    func invalidTags(_ tag: UInt8) {
        var reader = WireReader([tag])
        #expect(throws: WireError.invalidValue("bool value", UInt64(tag))) { _ = try reader.readBool() }
        var optional = WireReader([tag, 0])
        #expect(throws: WireError.invalidValue("optional tag", UInt64(tag))) {
            _ = try optional.readOptional { try $0.readUInt8() }
        }
    }

    @Test("an element count that cannot fit is refused before allocating")
    func hugeCount() {
        var writer = WireWriter()
        writer.writeUInt32(UInt32.max)
        writer.writeUInt32(1)
        var reader = WireReader(writer.bytes)
        #expect(throws: WireError.self) {
            _ = try reader.readArray(maxCount: Int(UInt32.max), minElementSize: 4) { try $0.readUInt32() }
        }
        var capped = WireReader(writer.bytes)
        #expect(throws: WireError.lengthExceedsMaximum("element count", length: UInt64(UInt32.max), maximum: 10)) {
            _ = try capped.readCount(maxCount: 10)
        }
    }

    @Test("fixed-size reads name what was truncated and where")
    func truncatedMessage() {
        var reader = WireReader([1, 2, 3])
        do {
            _ = try reader.readUInt8()
            _ = try reader.readUInt32()
            Issue.record("expected an error")
        } catch let error as WireError {
            #expect(error.description == "truncated u32 at offset 1: needs 4 bytes, 2 remaining")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("control payloads round trip")
    func controlPayloads() throws {
        let hello = HelloPayload(name: "infer.limitd", version: 3)
        #expect(try HelloPayload(decoding: hello.encoded()) == hello)
        let plain = ErrorPayload(code: 7, message: "no such type")
        #expect(try ErrorPayload(decoding: plain.encoded()) == plain)
        let refused = ErrorPayload(code: 2, message: "wrong", server: hello)
        #expect(try ErrorPayload(decoding: refused.encoded()) == refused)
        let long = ErrorPayload(code: 9, message: String(repeating: "é", count: 40000))
        let decoded = try ErrorPayload(decoding: long.encoded())
        #expect(decoded.message.utf8.count <= ErrorPayload.maxMessageLength)
    }
}
