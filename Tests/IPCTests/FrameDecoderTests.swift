import Testing

@testable import IPC
import Wire

@Suite("IPC frame decoder")
struct FrameDecoderTests {
    static let frames: [Frame] = [
        Frame(kind: .hello, payload: HelloPayload(name: "infer.limitd", version: 1).encoded()),
        Frame(kind: .helloAck, payload: HelloPayload(name: "infer.limitd", version: 1).encoded()),
        Frame(kind: .request, type: 1, correlation: 1, payload: [0, 0, 0, 250] + Array("ping".utf8)),
        Frame(kind: .reply, type: 1, correlation: 1, payload: Array("pong".utf8)),
        Frame(kind: .chunk, type: 2, correlation: 2, payload: Array(repeating: 0xAB, count: 5000)),
        Frame(kind: .end, type: 2, correlation: 2),
        Frame(kind: .cancel, correlation: UInt64.max),
        Frame(kind: .error, type: 1, correlation: 4, payload: ErrorPayload(code: 7, message: "no").encoded()),
    ]

    static var stream: [UInt8] { frames.flatMap { FrameEncoder.encode($0) } }

    static func drain(_ decoder: inout FrameDecoder) throws -> [Frame] {
        var out: [Frame] = []
        while let frame = try decoder.next() { out.append(frame) }
        return out
    }

    @Test("decodes many frames fed at once")
    func allAtOnce() throws {
        var decoder = FrameDecoder()
        decoder.feed(Self.stream)
        #expect(try Self.drain(&decoder) == Self.frames)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("decodes frames fed one byte at a time")
    func byteByByte() throws {
        var decoder = FrameDecoder()
        var out: [Frame] = []
        for byte in Self.stream {
            [byte].withUnsafeBytes { decoder.feed($0) }
            out += try Self.drain(&decoder)
        }
        #expect(out == Self.frames)
    }

    @Test("decodes frames fed in chunks of every size", arguments: [2, 3, 7, 19, 20, 21, 64, 1000, 4096])
    func chunked(_ size: Int) throws {
        var decoder = FrameDecoder()
        var out: [Frame] = []
        let stream = Self.stream
        var start = 0
        while start < stream.count {
            let end = min(start + size, stream.count)
            decoder.feed(stream[start..<end])
            out += try Self.drain(&decoder)
            start = end
        }
        #expect(out == Self.frames)
    }

    @Test("a truncated frame needs more bytes, not an error", arguments: [1, 19, 20, 21, 30])
    func truncated(_ length: Int) throws {
        var decoder = FrameDecoder()
        let frame = FrameEncoder.encode(Self.frames[2])  // 28 bytes
        decoder.feed(frame[0..<min(length, frame.count - 1)])
        #expect(try decoder.next() == nil)
        decoder.feed(frame[min(length, frame.count - 1)...])
        #expect(try decoder.next() == Self.frames[2])
    }

    @Test("an oversized length is refused from the header alone")
    func oversized() throws {
        var decoder = FrameDecoder(maxPayload: 65536)
        var header: [UInt8] = []
        FrameEncoder.appendHeader(kind: .request, type: 1, correlation: 1, payloadLength: 70000, to: &header)
        decoder.feed(header)
        #expect(throws: WireError.frameTooLarge(length: 70000, max: 65536)) { try decoder.next() }
        #expect(decoder.bufferedByteCount == 0)
        // Sticky: the rest of the stream is never looked at.
        decoder.feed([0, 0])
        #expect(throws: WireError.frameTooLarge(length: 70000, max: 65536)) { try decoder.next() }
    }

    @Test("the maximum payload itself is accepted")
    func exactlyMaximum() throws {
        var decoder = FrameDecoder(maxPayload: 100)
        let frame = Frame(kind: .reply, type: 1, correlation: 9, payload: Array(repeating: 1, count: 100))
        decoder.feed(FrameEncoder.encode(frame))
        #expect(try decoder.next() == frame)
    }

    @Test("a 4 GiB length is refused without allocating")
    func hugeLength() {
        var decoder = FrameDecoder()
        decoder.feed([0xFF, 0xFF, 0xFF, 0xFF, 1, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(throws: WireError.frameTooLarge(length: UInt64(UInt32.max), max: Frame.defaultMaxPayload)) {
            try decoder.next()
        }
    }

    static func header(version: UInt8 = 1, kind: UInt8 = 3, flags: UInt16 = 0, reserved: UInt16 = 0) -> [UInt8] {
        var header: [UInt8] = [0, 0, 0, 0, version, kind]
        header += [0, 1]
        header += [UInt8(flags >> 8), UInt8(flags & 0xFF)]
        header += [UInt8(reserved >> 8), UInt8(reserved & 0xFF)]
        header += [0, 0, 0, 0, 0, 0, 0, 1]
        return header
    }

    static let badHeaders: [([UInt8], WireError)] = [
        (header(version: 0), .unsupportedVersion(0)),
        (header(version: 2), .unsupportedVersion(2)),
        (header(kind: 0), .unknownKind(0)),
        (header(kind: 9), .unknownKind(9)),
        (header(kind: 255), .unknownKind(255)),
        (header(flags: 1), .nonzeroFlags(1)),
        (header(reserved: 0x8000), .nonzeroReserved(0x8000)),
    ]

    @Test("bad header fields are refused", arguments: badHeaders)
    func badHeader(_ bytes: [UInt8], _ expected: WireError) {
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        #expect(throws: expected) { try decoder.next() }
    }

    @Test("garbage is refused, never trapped on", arguments: [
        Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
        Array(repeating: 0xFF, count: 64),
        Array(repeating: 0x00, count: 64),
        (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) },
    ])
    func garbage(_ bytes: [UInt8]) {
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        // All zeros is an empty-payload header with version 0: still an error.
        #expect(throws: WireError.self) { try Self.drain(&decoder) }
    }

    @Test("memory stays bounded while a large frame trickles in")
    func bounded() throws {
        var decoder = FrameDecoder(maxPayload: 256 * 1024)
        let frame = Frame(kind: .chunk, type: 1, correlation: 1, payload: Array(repeating: 7, count: 256 * 1024))
        let bytes = FrameEncoder.encode(frame)
        var start = 0
        var frames = 0
        for _ in 0..<3 {
            start = 0
            while start < bytes.count {
                let end = min(start + 1000, bytes.count)
                decoder.feed(bytes[start..<end])
                #expect(decoder.bufferedByteCount <= bytes.count)
                while try decoder.next() != nil { frames += 1 }
                start = end
            }
        }
        #expect(frames == 3)
        #expect(decoder.bufferedByteCount == 0)
    }
}
