import Wire

/// A finished completion: what cached keeps for a deterministic request, enough to answer it again in
/// any of the API's shapes. Stored binary (``binaryTag``, then the IPC codec's fields), so a hit is read
/// without a JSON parser; entries written as JSON by an older frontd (a snapshot, a shared Redis tier)
/// are still read.
struct CachedCompletion: Sendable, Equatable {
    var content: String
    var finishReason: String
    var promptTokens: Int
    var completionTokens: Int

    /// The first byte of the binary form; a JSON entry starts with `{`.
    static let binaryTag: UInt8 = 0xC1
    /// Longest finish reason read back (`stop`, `length`, `content_filter`, ...).
    static let maxFinishReason = 64

    init(content: String, finishReason: String, promptTokens: Int, completionTokens: Int) {
        self.content = content
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    /// Reads an entry, binary or JSON; nil when it is neither (cached then counts as a miss).
    init?(decoding bytes: [UInt8]) {
        if bytes.first == Self.binaryTag {
            var r = WireReader(bytes)
            guard (try? r.readUInt8()) != nil, let content = try? r.readString(), let finish = try? r.readString(maxLength: Self.maxFinishReason),
                  let prompt = try? r.readUInt32(), let completion = try? r.readUInt32(), r.isAtEnd else { return nil }
            self.init(content: content, finishReason: finish, promptTokens: Int(prompt), completionTokens: Int(completion))
            return
        }
        guard let o = try? JSONBody.object(bytes), let c = o["content"]?.string, let f = o["finish_reason"]?.string,
              let p = o["prompt_tokens"]?.integer, let n = o["completion_tokens"]?.integer else { return nil }
        self.init(content: c, finishReason: f, promptTokens: p, completionTokens: n)
    }

    /// The binary form cached keeps.
    func encoded() -> [UInt8] {
        var w = WireWriter(reservingCapacity: content.utf8.count + finishReason.utf8.count + 17)
        w.writeUInt8(Self.binaryTag)
        w.writeString(content)
        w.writeString(finishReason)
        w.writeUInt32(UInt32(clamping: promptTokens))
        w.writeUInt32(UInt32(clamping: completionTokens))
        return w.bytes
    }
}
