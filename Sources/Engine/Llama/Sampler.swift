import Foundation

/// Picks each next token of one sequence from the model's logits, applying penalties, temperature,
/// top-k and top-p, with its own seeded random generator.
public struct Sampler: Sendable {
    public let parameters: GenerationParameters
    private var rng: SplitMix64
    /// How often each token has been generated so far (for the penalties).
    private var counts: [Int32: Int] = [:]
    /// Candidates less likely than this (relative to the most likely token) are dropped before the
    /// top-p sort; together they weigh less than vocab × 1e-9.
    static let negligible: Float = 1e-9

    public init(_ parameters: GenerationParameters) {
        self.parameters = parameters
        var seed = parameters.seed ?? UInt64.random(in: .min ... .max)
        if parameters.seed == nil { seed ^= 0x9E37_79B9_7F4A_7C15 }
        rng = SplitMix64(seed: seed)
    }

    /// Chooses the next token from `logits` (modified in place by the penalties) and records it.
    public mutating func next(_ logits: inout [Float]) -> Int32 {
        let p = parameters
        if p.frequencyPenalty != 0 || p.presencePenalty != 0 {
            for (token, n) in counts {
                logits[Int(token)] -= Float(n) * p.frequencyPenalty + p.presencePenalty
            }
        }
        let token = p.temperature == 0 ? Self.argmax(logits) : sample(logits)
        counts[token, default: 0] += 1
        return token
    }

    /// Index of the largest logit (the first one on ties; NaNs are skipped; 0 when none is above -∞).
    /// Two passes of 16 lanes: the largest value, then its first index.
    public static func argmax(_ logits: [Float]) -> Int32 {
        logits.withUnsafeBufferPointer { v in
            guard let base = v.baseAddress else { return 0 }
            let n = v.count, wide = n / 16 * 16
            var lanes = SIMD16<Float>(repeating: -.infinity)
            var i = 0
            while i < wide {
                let x = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<Float>.self)
                lanes.replace(with: x, where: x .> lanes)
                i += 16
            }
            var top = lanes.max()
            for j in wide..<n where v[j] > top { top = v[j] }
            guard top > -.infinity else { return 0 }
            return Int32(v.firstIndex(of: top) ?? 0)
        }
    }

    private mutating func sample(_ logits: [Float]) -> Int32 {
        let p = parameters
        let inv = 1 / p.temperature
        var mx = -Float.infinity
        for v in logits { mx = max(mx, v) }
        // Probabilities up to a constant factor; drop the negligible tail.
        let floor = mx + log(Self.negligible) * p.temperature
        var cand: [(id: Int32, w: Float)] = []
        cand.reserveCapacity(256)
        for (i, v) in logits.enumerated() where v >= floor {
            cand.append((Int32(i), expf((v - mx) * inv)))
        }
        let needsOrder = p.topK > 0 || p.topP < 1
        if needsOrder {
            cand.sort { $0.w > $1.w || ($0.w == $1.w && $0.id < $1.id) }
            if p.topK > 0, cand.count > p.topK { cand.removeSubrange(p.topK...) }
            if p.topP < 1 {
                let total = cand.reduce(0) { $0 + $1.w }
                var cum: Float = 0
                var keep = cand.count
                for (i, c) in cand.enumerated() {
                    cum += c.w
                    if cum >= p.topP * total {
                        keep = i + 1
                        break
                    }
                }
                cand.removeSubrange(keep...)
            }
        }
        let total = cand.reduce(0) { $0 + $1.w }
        var u = Float(rng.nextDouble()) * total
        for c in cand {
            u -= c.w
            if u <= 0 { return c.id }
        }
        return cand.last?.id ?? Self.argmax(logits)
    }
}

/// A small, fast, seedable random generator (Steele et al.'s SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform value in [0, 1).
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }
}
