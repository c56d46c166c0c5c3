import DaemonRuntime
import Foundation
import IPC
import Spawn
import Synchronization
import Testing
import TestKit

@Suite("Logger")
struct LoggerTests {
    static let hostile: [String] = [
        "",
        "plain",
        "quote \" backslash \\ slash /",
        "newline\ncarriage\rtab\tform\u{0C}backspace\u{08}",
        "nul \u{0} bell \u{07} escape \u{1B}[31mred\u{1B}[0m del \u{7F}",
        "every control: " + String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }),
        "unicode: héllo wörld 日本語 🙂 \u{2028} \u{2029} \u{FEFF}",
        "lone surrogate repaired: " + String(decoding: [0xED, 0xA0, 0x80], as: UTF8.self),
        "invalid utf8: " + String(decoding: [0xFF, 0xFE, 0xC3, 0x28, 0x80], as: UTF8.self),
        "json injection\",\"level\":\"error",
        "}{\"",
        String(repeating: "x", count: 10_000),
    ]

    @Test("every line is one JSON object that reads back exactly, whatever the strings", arguments: hostile)
    func hostileStrings(text: String) throws {
        let capture = LogCapture()
        let logger = Logger(daemon: "d\"\n", level: .debug, output: capture.output).with(requestID: text)
        logger.info(text, [text: .string(text), "n": 42, "x": 1.5, "ok": true, "none": nil])
        let lines = capture.all
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().allSatisfy { $0 != UInt8(ascii: "\n") && $0 >= 0x20 || $0 >= 0x80 })
        let object = try #require(capture.objects.first ?? nil)
        #expect(object["msg"] as? String == text)
        #expect(object["daemon"] as? String == "d\"\n")
        #expect(object["request_id"] as? String == text)
        #expect(object["n"] as? Int == 42)
        #expect(object["x"] as? Double == 1.5)
        #expect(object["ok"] as? Bool == true)
        #expect(object["none"] is NSNull)
        if !["msg", "n", "x", "ok", "none", "request_id"].contains(text) {
            #expect(object[text] as? String == text)
        }
    }

    @Test("raw bytes with invalid UTF-8 become replacement characters")
    func invalidBytes() throws {
        let capture = LogCapture()
        let logger = Logger(daemon: "d", output: capture.output)
        logger.info("bytes", ["header": LogValue(bytes: [0x61, 0xFF, 0x62, 0xC0, 0x0A])])
        let object = try #require(capture.objects.first ?? nil)
        #expect(object["header"] as? String == "a\u{FFFD}b\u{FFFD}\n")
    }

    @Test("the header keys come first, in order, with an RFC 3339 UTC timestamp")
    func shape() throws {
        let capture = LogCapture()
        Logger(daemon: "limitd", output: capture.output).with(requestID: "r1", traceID: "t1").warn("slow", ["ms": 12])
        let text = String(decoding: try #require(capture.all.first), as: UTF8.self)
        let pattern = #"^\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"warn","daemon":"limitd","msg":"slow","request_id":"r1","trace_id":"t1","ms":12\}\n$"#
        #expect(text.range(of: pattern, options: .regularExpression) != nil, "\(text)")
    }

    @Test("fields cannot overwrite the header keys nor repeat a bound key")
    func reservedKeys() throws {
        let capture = LogCapture()
        Logger(daemon: "d", output: capture.output).with(["request_id": "bound"])
            .info("m", ["level": "fake", "msg": "fake", "request_id": "again"])
        let text = String(decoding: try #require(capture.all.first), as: UTF8.self)
        let object = try #require(capture.objects.first ?? nil)
        #expect(object["level"] as? String == "info")
        #expect(object["msg"] as? String == "m")
        #expect(object["field_level"] as? String == "fake")
        #expect(object["request_id"] as? String == "bound")
        #expect(text.components(separatedBy: "request_id").count == 2)
    }

    @Test("non-finite numbers are written as strings")
    func nonFinite() throws {
        let capture = LogCapture()
        Logger(daemon: "d", output: capture.output).info("m", ["a": .double(.nan), "b": .double(-.infinity)])
        let object = try #require(capture.objects.first ?? nil)
        #expect(object["a"] as? String == "nan")
        #expect(object["b"] as? String == "-inf")
    }

    @Test("levels below LOG_LEVEL are not written, and their message is never built")
    func levels() {
        let capture = LogCapture()
        let logger = Logger(daemon: "d", level: .warn, output: capture.output)
        let built = Atomic<Int>(0)
        func expensive() -> String {
            built.add(1, ordering: .relaxed)
            return "expensive"
        }
        logger.debug(expensive())
        logger.info(expensive(), ["k": .string(expensive())])
        logger.warn("w")
        logger.error("e")
        #expect(built.load(ordering: .relaxed) == 0)
        #expect(capture.objects.compactMap { $0?["level"] as? String } == ["warn", "error"])
        #expect(!logger.isEnabled(.info))
        #expect(logger.isEnabled(.error))
    }

    @Test("lines from many threads never interleave")
    func concurrent() async {
        let capture = LogCapture()
        let logger = Logger(daemon: "d", output: capture.output)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<200 { logger.info("line \(index)", ["task": LogValue(task)]) }
                }
            }
        }
        let objects = capture.objects
        #expect(objects.count == 1600)
        #expect(objects.allSatisfy { $0 != nil })
    }

    @Test("one write(2) per line to a real descriptor, whole lines only")
    func fileDescriptorOutput() throws {
        let ends = try ProcessSpawner.makePipe()
        defer { close(ends.read) }
        let logger = Logger(daemon: "d", output: .fileDescriptor(ends.write))
        // 80 lines of ~370 bytes fit in the pipe's 64 KiB buffer, so nothing blocks before the read below.
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for index in 0..<20 { logger.info(String(repeating: "y", count: 300), ["w": LogValue(worker), "i": LogValue(index)]) }
        }
        close(ends.write)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while case let count = read(ends.read, &buffer, buffer.count), count > 0 { bytes += buffer[0..<count] }
        let lines = bytes.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == 80)
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0))) != nil })
    }

    @Test("the plain format stays on one line")
    func plain() throws {
        let capture = LogCapture()
        Logger(daemon: "limitd", format: .plain, output: capture.output)
            .info("two\nlines", ["key": "a b", "n": 3, "simple": "word"])
        let text = String(decoding: try #require(capture.all.first), as: UTF8.self)
        #expect(text.hasSuffix(" info limitd: two\\nlines key=\"a b\" n=3 simple=word\n"))
        #expect(text.dropLast().contains("\n") == false)
    }
}
