import HTTP
import Testing

/// Mutated requests must never crash the parser, and how the bytes are sliced must never change the
/// outcome (same requests, same error): the property that keeps a front end and this server agreeing on
/// where one request ends and the next begins.
@Suite("HTTP request parser under mutation")
struct HTTPRequestParserFuzzTests {
    /// xorshift64*: deterministic, so a failure names its seed and replays.
    struct Random {
        var state: UInt64

        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }

        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }
    }

    static let seeds: [[UInt8]] = [
        "GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"a\":[1,2]}",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;e=1\r\nabcd\r\n3\r\nefg\r\n0\r\nT: 1\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.1\r\nHost: y\r\n\r\n",
    ].map { Array($0.utf8) }

    static let interesting: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x20, 0x3A, 0x3B, 0x2C, 0x30, 0x39, 0x2D, 0x66, 0x7F, 0x80, 0xFF]

    struct Outcome: Equatable {
        var requests: [String]
        var error: HTTPParseError?
    }

    static func parse(_ input: [UInt8], slices: [Int], limits: HTTPLimits) -> Outcome {
        var parser = HTTPRequestParser(limits: limits)
        var outcome = Outcome(requests: [], error: nil)
        var offset = 0
        var sliceIndex = 0
        while offset < input.count {
            let size = max(1, slices[sliceIndex % slices.count])
            sliceIndex += 1
            let end = min(input.count, offset + size)
            parser.feed(input[offset..<end])
            offset = end
            do {
                while let request = try parser.next() {
                    outcome.requests.append("\(request.method) \(request.target) \(request.version) \(request.keepAlive) \(request.headers.count) \(request.body)")
                }
            } catch {
                outcome.error = error
                return outcome
            }
        }
        return outcome
    }

    @Test("mutated requests: no crash, same outcome however the bytes are sliced", arguments: 0..<8)
    func mutations(round: Int) {
        var random = Random(state: 0x9E37_79B9_7F4A_7C15 &+ UInt64(round) &* 0xD1B5_4A32_D192_ED03)
        let limits = HTTPLimits(maxHeaderBytes: 256, maxHeaderCount: 8, maxBodyBytes: 64)
        for iteration in 0..<400 {
            var input = Self.seeds[random.below(Self.seeds.count)]
            if random.below(3) == 0 { input += Self.seeds[random.below(Self.seeds.count)] }
            for _ in 0..<(1 + random.below(4)) {
                let position = random.below(input.count)
                switch random.below(5) {
                case 0: input[position] = Self.interesting[random.below(Self.interesting.count)]
                case 1: input[position] = UInt8(truncatingIfNeeded: random.next())
                case 2: input.insert(Self.interesting[random.below(Self.interesting.count)], at: position)
                case 3: input.remove(at: position)
                default:
                    let length = random.below(40)
                    let end = min(input.count, position + length)
                    input.insert(contentsOf: input[position..<end], at: position)
                }
                if input.isEmpty { input = [0x47] }
            }
            let whole = Self.parse(input, slices: [input.count], limits: limits)
            let bytes = Self.parse(input, slices: [1], limits: limits)
            let random3 = Self.parse(input, slices: (0..<8).map { _ in 1 + random.below(7) }, limits: limits)
            #expect(whole == bytes, "round \(round) iteration \(iteration): \(String(decoding: input, as: UTF8.self).debugDescription)")
            #expect(whole == random3, "round \(round) iteration \(iteration)")
        }
    }
}
