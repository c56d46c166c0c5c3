import Foundation
import Glibc
import Testing
import TestKit

@testable import IPC
import Wire

/// The frames of Golden/frames.ref, built through the public API.
enum GoldenFrames {
    static let limitdHello = HelloPayload(name: "infer.limitd", version: 1).encoded()
    static let limitdHelloFeatures = HelloPayload(name: "infer.limitd", version: 1, features: ProtocolFeatures.traceContext).encoded()

    static let expected: [(name: String, frame: Frame)] = [
        ("HELLO", Frame(kind: .hello, payload: limitdHello)),
        ("HELLO_ACK", Frame(kind: .helloAck, payload: limitdHello)),
        ("REQUEST", Frame(kind: .request, type: 1, correlation: 1, payload: [0x00, 0x00, 0x00, 0xFA] + bytes("ping"))),
        ("REPLY", Frame(kind: .reply, type: 1, correlation: 1, payload: bytes("pong"))),
        ("CHUNK", Frame(kind: .chunk, type: 2, correlation: 2, payload: bytes("Once"))),
        ("END", Frame(kind: .end, type: 2, correlation: 2, payload: bytes(" upon"))),
        ("CANCEL", Frame(kind: .cancel, correlation: 3)),
        ("ERROR", Frame(kind: .error, type: 9, correlation: 4,
                        payload: ErrorPayload(code: IPCErrorCode.unknownType, message: "unknown message type 9").encoded())),
        ("ERROR_CONNECTION", Frame(kind: .error, payload: ErrorPayload(
            code: IPCErrorCode.wrongProtocol, message: "this socket serves infer.cached/1, not infer.limitd/1",
            server: HelloPayload(name: "infer.cached", version: 1)).encoded())),
        ("HELLO_FEATURES", Frame(kind: .hello, payload: limitdHelloFeatures)),
        ("HELLO_ACK_FEATURES", Frame(kind: .helloAck, payload: limitdHelloFeatures)),
        ("REQUEST_TRACED", Frame(kind: .request, type: 1, correlation: 1, flags: FrameFlags.traceContext,
                                 payload: sampleTrace.encoded() + [0x00, 0x00, 0x00, 0xFA] + bytes("ping"))),
    ]

    /// NAME → hex (spaces removed) from the .ref file.
    static func load() throws -> [String: String] {
        guard let url = Bundle.module.url(forResource: "frames", withExtension: "ref", subdirectory: "Golden") else {
            throw TestTimeout(what: "Golden/frames.ref is not in the test bundle")
        }
        let text = try String(contentsOf: url, encoding: .utf8)
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let name = fields.first else { continue }
            result[String(name)] = fields.dropFirst().joined()
        }
        return result
    }
}

@Suite("IPC golden frames")
struct GoldenFrameTests {
    @Test("each frame kind encodes to its golden bytes and decodes back", arguments: GoldenFrames.expected.map(\.name))
    func golden(_ name: String) throws {
        let golden = try GoldenFrames.load()
        let frame = try #require(GoldenFrames.expected.first { $0.name == name }?.frame)
        let hex = try #require(golden[name], "no \(name) line in frames.ref")
        #expect(hexString(FrameEncoder.encode(frame)) == hex)
        var decoder = FrameDecoder(acceptedFlags: FrameFlags.known)
        decoder.feed(try #require(bytesFromHex(hex)))
        #expect(try decoder.next() == frame)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("every frame kind has a golden line")
    func coversEveryKind() {
        let kinds = Set(GoldenFrames.expected.map(\.frame.kind))
        #expect(kinds == Set(FrameKind.allCases))
    }

    /// docs/PROTOCOL.md shows the same bytes (compared with whitespace removed).
    @Test("docs/PROTOCOL.md shows the golden bytes")
    func documented() throws {
        let docs = URL(fileURLWithPath: packageRoot + "/docs/PROTOCOL.md")
        let text = try String(contentsOf: docs, encoding: .utf8).filter { !$0.isWhitespace }
        for (name, hex) in try GoldenFrames.load() {
            #expect(text.contains(hex), "docs/PROTOCOL.md lacks the \(name) example \(hex)")
        }
    }

    /// A real server answers HELLOs with exactly the golden HELLO_ACK and wrong-protocol ERROR.
    @Test("a server's handshake answers match the golden bytes")
    func serverHandshake() async throws {
        let golden = try GoldenFrames.load()
        let limitd = try TestServer(protocolName: "infer.limitd")
        let cached = try TestServer(protocolName: "infer.cached")
        defer {
            limitd.directory.remove()
            cached.directory.remove()
        }
        let featuresHello = FrameEncoder.encode(Frame(kind: .hello, payload: GoldenFrames.limitdHelloFeatures))
        for (server, hello, expected) in [(limitd, helloFrame("infer.limitd"), "HELLO_ACK"),
                                          (limitd, featuresHello, "HELLO_ACK_FEATURES"),
                                          (cached, helloFrame("infer.limitd"), "ERROR_CONNECTION")] {
            let fd = try UnixSocket.connect(path: server.path)
            defer { close(fd) }
            try writeAll(fd, hello)
            var decoder = FrameDecoder()
            guard case let .frame(frame) = try readFrame(fd, decoder: &decoder) else {
                Issue.record("no answer to HELLO")
                continue
            }
            #expect(hexString(FrameEncoder.encode(frame)) == golden[expected])
        }
        await limitd.stop()
        await cached.stop()
    }
}
