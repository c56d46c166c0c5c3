import Testing

@testable import Redis

@Suite("RESP2 parser")
struct RESPParserTests {
    /// One stream with every RESP2 type and the awkward cases: CRLF inside a bulk string, empty bulk
    /// and array, both nulls (top level and nested), the extreme integers, nested arrays.
    static let stream: [RESPValue] = [
        .simpleString("OK"),
        .error("ERR unknown command 'FOO'"),
        .integer(0),
        .integer(-1),
        .integer(Int64.max),
        .integer(Int64.min),
        .bulkString(Array("foo".utf8)),
        .bulkString([13, 10, 0, 255, 36, 42, 13, 10]),
        .bulkString([]),
        .null,
        .array([]),
        .array([.integer(1), .bulkString(Array("two".utf8)), .null, .array([.simpleString("deep"), .array([])])]),
        .simpleString(""),
    ]
    static let streamBytes: [UInt8] = stream.flatMap(encodeReply) + Array("*-1\r\n".utf8)
    static let expected: [RESPValue] = stream + [.null]

    @Test("all at once")
    func wholeStream() throws {
        #expect(try parseAll([Self.streamBytes]) == Self.expected)
    }

    @Test("split in two at every byte offset")
    func everySplit() throws {
        let bytes = Self.streamBytes
        for offset in 0...bytes.count {
            let values = try parseAll([Array(bytes[..<offset]), Array(bytes[offset...])])
            #expect(values == Self.expected, "split at \(offset)")
        }
    }

    @Test("one byte at a time")
    func byteAtATime() throws {
        #expect(try parseAll(Self.streamBytes.map { [$0] }) == Self.expected)
    }

    @Test("nothing is produced or consumed until a value is complete")
    func partialValues() throws {
        var parser = RESPParser()
        parser.append(Array("*2\r\n$3\r\nfo".utf8))
        #expect(try parser.next() == nil)
        parser.append(Array("o\r".utf8))
        #expect(try parser.next() == nil)
        parser.append(Array("\n:7\r".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.isInsideReply)
        parser.append(Array("\n+next".utf8))
        #expect(try parser.next() == .array([.bulkString(Array("foo".utf8)), .integer(7)]))
        #expect(try parser.next() == nil)
        #expect(parser.bufferedByteCount == 5)
    }

    @Test("random values round-trip through random splits")
    func randomRoundTrip() throws {
        var generator = SeededGenerator(seed: 42)
        for round in 0..<200 {
            let values = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                Self.randomValue(depth: 0, using: &generator)
            }
            let bytes = values.flatMap(encodeReply)
            var chunks: [[UInt8]] = []
            var index = 0
            while index < bytes.count {
                let size = Int.random(in: 1...max(1, bytes.count / 3), using: &generator)
                chunks.append(Array(bytes[index..<min(bytes.count, index + size)]))
                index += size
            }
            #expect(try parseAll(chunks) == values, "round \(round)")
        }
    }

    @Test("random garbage never crashes: it parses, waits, or throws")
    func garbage() {
        var generator = SeededGenerator(seed: 7)
        let alphabet = Array("+-:$*\r\n0123456789-x".utf8)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 1...40, using: &generator)).map { _ in
                alphabet.randomElement(using: &generator) ?? 0
            }
            var parser = RESPParser(limits: .init(maxBulkLength: 1000, maxArrayCount: 1000, maxDepth: 4))
            parser.append(bytes)
            do {
                while try parser.next() != nil {}
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }

    static func randomValue(depth: Int, using generator: inout SeededGenerator) -> RESPValue {
        switch Int.random(in: 0..<(depth < 3 ? 7 : 6), using: &generator) {
        case 0: return .simpleString(String(repeating: "s", count: Int.random(in: 0...5, using: &generator)))
        case 1: return .error("ERR \(Int.random(in: 0...99, using: &generator))")
        case 2: return .integer(Int64.random(in: Int64.min...Int64.max, using: &generator))
        case 3: return .null
        case 4, 5:
            return .bulkString((0..<Int.random(in: 0...20, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        default:
            return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in randomValue(depth: depth + 1, using: &generator) })
        }
    }
}

@Suite("RESP2 parser: malformed input and limits")
struct RESPParserErrorTests {
    @Test(
        "malformed input is an error naming what is wrong",
        arguments: [
            ("x\r\n", RESPProtocolError.Code.unknownType, "0x78"),
            ("%1\r\n", .unknownType, "RESP3"),
            (":12a\r\n", .malformedNumber, "'12a'"),
            (":\r\n", .malformedNumber, "integer reply"),
            (":-\r\n", .malformedNumber, "integer reply"),
            (":9223372036854775808\r\n", .malformedNumber, "9223372036854775808"),
            (":-9223372036854775809\r\n", .malformedNumber, "-9223372036854775809"),
            ("$abc\r\n", .malformedNumber, "bulk string length"),
            ("$-2\r\n", .invalidLength, "-2"),
            ("*-5\r\n", .invalidLength, "-5"),
            ("$3\r\nfooXY", .malformedLineEnding, "length 3"),
            ("+OK\rX", .malformedLineEnding, "CR not followed by LF"),
            ("*1\r\n!", .unknownType, "0x21"),
        ])
    func malformed(input: String, code: RESPProtocolError.Code, mention: String) {
        let error = parseError(Array(input.utf8))
        #expect(error?.code == code)
        #expect(error?.message.contains(mention) == true, "\(error?.message ?? "no error")")
    }

    @Test("a bulk string over the limit fails on its header, before its bytes arrive")
    func bulkTooLong() {
        let error = parseError(Array("$1000000000000\r\n".utf8))
        #expect(error?.code == .bulkTooLong)
        #expect(error?.message == "bulk string length 1000000000000 exceeds maximum 67108864")
        #expect(parseError(Array("$11\r\n".utf8), limits: .init(maxBulkLength: 10))?.code == .bulkTooLong)
        #expect(parseError(Array("$10\r\n".utf8), limits: .init(maxBulkLength: 10)) == nil)
    }

    @Test("an array over the count limit fails on its header")
    func arrayTooLong() {
        #expect(parseError(Array("*9223372036854775807\r\n".utf8))?.code == .arrayTooLong)
        #expect(parseError(Array("*4\r\n".utf8), limits: .init(maxArrayCount: 3))?.code == .arrayTooLong)
        #expect(parseError(Array("*3\r\n".utf8), limits: .init(maxArrayCount: 3)) == nil)
    }

    @Test("arrays nested past the depth limit fail")
    func tooDeep() throws {
        let limits = RESPParser.Limits(maxDepth: 4)
        let nested = { (depth: Int) in Array((String(repeating: "*1\r\n", count: depth - 1) + "*0\r\n").utf8) }
        #expect(try parseAll([nested(4)], limits: limits).count == 1)
        let error = parseError(nested(5), limits: limits)
        #expect(error?.code == .nestingTooDeep)
        #expect(error?.message.contains("4") == true)
        // The default limit holds against a hostile depth without recursion or a crash.
        #expect(parseError(Array(String(repeating: "*1\r\n", count: 100_000).utf8))?.code == .nestingTooDeep)
    }

    @Test("a line without CRLF past the line limit fails without waiting for more")
    func lineTooLong() throws {
        let limits = RESPParser.Limits(maxLineLength: 8)
        #expect(try parseAll([Array("+12345678\r\n".utf8)], limits: limits) == [.simpleString("12345678")])
        #expect(parseError(Array("+123456789".utf8), limits: limits)?.code == .lineTooLong)
        #expect(parseError(Array("+12345678".utf8), limits: limits) == nil)  // still waiting for CRLF
        #expect(parseError(Array((":" + String(repeating: "9", count: 100_000)).utf8))?.code == .lineTooLong)
    }

    @Test("a reply whose total size passes the limit fails, though each part is within its own limit")
    func replyTooLarge() throws {
        let limits = RESPParser.Limits(maxReplySize: 10_000)
        let many = Array("*1000\r\n".utf8) + Array(repeating: Array(":1\r\n".utf8), count: 1000).flatMap { $0 }
        #expect(parseError(many, limits: limits)?.code == .replyTooLong)
        // The same values as separate replies are fine: the budget is per reply.
        let separate = Array(repeating: Array(":1\r\n".utf8), count: 1000).flatMap { $0 }
        #expect(try parseAll([separate], limits: limits).count == 1000)
        // A bulk string that would pass the budget fails on its header.
        #expect(parseError(Array("$20000\r\n".utf8), limits: limits)?.code == .replyTooLong)
    }

    @Test("after an error the parser stays failed")
    func staysFailed() throws {
        var parser = RESPParser()
        parser.append(Array("?\r\n+OK\r\n".utf8))
        #expect(throws: RESPProtocolError.self) { try parser.next() }
        parser.append(Array("+OK\r\n".utf8))
        #expect(throws: RESPProtocolError.self) { try parser.next() }
    }

    @Test("a header declaring a huge array allocates for only a few elements")
    func hugeDeclaredArray() throws {
        var parser = RESPParser()
        parser.append(Array("*1048576\r\n:1\r\n".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.isInsideReply)
    }
}
