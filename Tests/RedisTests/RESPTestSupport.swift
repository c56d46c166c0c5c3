@testable import Redis

/// Encodes a reply the way a server would, so tests can build streams from values.
func encodeReply(_ value: RESPValue) -> [UInt8] {
    switch value {
    case .simpleString(let text): return Array("+\(text)\r\n".utf8)
    case .error(let message): return Array("-\(message)\r\n".utf8)
    case .integer(let number): return Array(":\(number)\r\n".utf8)
    case .null: return Array("$-1\r\n".utf8)
    case .bulkString(let bytes): return Array("$\(bytes.count)\r\n".utf8) + bytes + [13, 10]
    case .array(let elements): return Array("*\(elements.count)\r\n".utf8) + elements.flatMap(encodeReply)
    }
}

/// Parses everything in `chunks`, fed one chunk at a time, and returns every value produced.
func parseAll(_ chunks: [[UInt8]], limits: RESPParser.Limits = .init()) throws -> [RESPValue] {
    var parser = RESPParser(limits: limits)
    var values: [RESPValue] = []
    for chunk in chunks {
        parser.append(chunk)
        while let value = try parser.next() { values.append(value) }
    }
    return values
}

/// The error a parser throws for `bytes` (fed at once), or `nil` when it throws none.
func parseError(_ bytes: [UInt8], limits: RESPParser.Limits = .init()) -> RESPProtocolError? {
    var parser = RESPParser(limits: limits)
    parser.append(bytes)
    do {
        while try parser.next() != nil {}
        return nil
    } catch {
        return error
    }
}

/// A small deterministic generator (xorshift64*), so that "random" tests fail the same way every run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
