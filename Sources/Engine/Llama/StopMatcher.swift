/// Finds stop sequences in streamed text without ever emitting part of one: text that could be the
/// start of a stop sequence is held back until the next piece shows whether it is.
public struct StopMatcher: Sendable {
    private let stops: [[UInt8]]
    private var held: [UInt8] = []

    public init(_ stops: [String]) {
        self.stops = stops.map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    /// Adds the next piece of text. Returns the text that is safe to emit and whether a stop sequence
    /// was found (the text before it is returned and nothing after it).
    public mutating func feed(_ text: String) -> (emit: String, stopped: Bool) {
        if stops.isEmpty { return (text, false) }
        held.append(contentsOf: text.utf8)
        // Earliest complete stop sequence.
        var cut: Int?
        for s in stops {
            if let i = Self.find(s, in: held), i < (cut ?? .max) { cut = i }
        }
        if let cut {
            let out = String(decoding: held[..<cut], as: UTF8.self)
            held.removeAll()
            return (out, true)
        }
        // Hold back the longest tail that is a prefix of some stop sequence.
        var keepFrom = held.count
        for start in max(0, held.count - (stops.map(\.count).max() ?? 0) + 1)..<held.count {
            let tail = held[start...]
            if stops.contains(where: { $0.count > tail.count && $0.starts(with: tail) }) {
                keepFrom = start
                break
            }
        }
        let out = String(decoding: held[..<keepFrom], as: UTF8.self)
        held.removeSubrange(..<keepFrom)
        return (out, false)
    }

    /// The text still held back, for when generation ends for another reason.
    public mutating func flush() -> String {
        defer { held.removeAll() }
        return String(decoding: held, as: UTF8.self)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        outer: for i in 0...(haystack.count - needle.count) {
            for j in 0..<needle.count where haystack[i + j] != needle[j] { continue outer }
            return i
        }
        return nil
    }
}
