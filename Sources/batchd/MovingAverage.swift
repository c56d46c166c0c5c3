/// An exponentially weighted moving average, for time to first token per deployment.
struct MovingAverage: Sendable {
    /// Weight of the newest sample.
    let alpha: Double
    private(set) var value: Double?

    init(alpha: Double = 0.2) {
        self.alpha = alpha
    }

    mutating func add(_ sample: Double) {
        guard sample.isFinite, sample >= 0 else { return }
        value = value.map { $0 + alpha * (sample - $0) } ?? sample
    }
}
