import Testing
@testable import frontd

/// The cache entry of a completion: binary, and entries an older frontd wrote as JSON still read.
@Suite("a completion's cache entry")
struct CachedCompletionTests {
    static let answer = CachedCompletion(content: "Paris — \"the\" capital\n", finishReason: "stop", promptTokens: 12, completionTokens: 7)

    @Test("the binary form reads back the same, and is not JSON")
    func roundTrip() {
        let bytes = Self.answer.encoded()
        #expect(bytes.first == CachedCompletion.binaryTag)
        #expect(CachedCompletion(decoding: bytes) == Self.answer)
    }

    @Test("an entry written as JSON (an older frontd, a snapshot, a shared Redis tier) still reads")
    func legacyJSON() {
        let json = #"{"completion_tokens":7,"content":"Paris — \"the\" capital\n","finish_reason":"stop","prompt_tokens":12}"#
        #expect(CachedCompletion(decoding: Array(json.utf8)) == Self.answer)
    }

    @Test("a cut, padded or foreign entry is no entry", arguments: [0, 1, 5, 20, -1])
    func malformed(cut: Int) {
        var bytes = Self.answer.encoded()
        if cut < 0 { bytes.append(0) } else { bytes = Array(bytes.prefix(cut)) }
        #expect(CachedCompletion(decoding: bytes) == nil)
    }

    @Test("a finish reason longer than any real one is refused")
    func longFinishReason() {
        let odd = CachedCompletion(content: "x", finishReason: String(repeating: "s", count: CachedCompletion.maxFinishReason + 1),
                                   promptTokens: 1, completionTokens: 1)
        #expect(CachedCompletion(decoding: odd.encoded()) == nil)
    }
}
