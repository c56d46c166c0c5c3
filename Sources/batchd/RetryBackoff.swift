/// Retries with exponential backoff and full jitter, inside the request's deadline.
struct RetryBackoff: Sendable {
    /// The first pause, nanoseconds.
    let base: Int64
    /// The longest pause, nanoseconds.
    let cap: Int64

    init(base: Int64 = 25_000_000, cap: Int64 = 1_000_000_000) {
        self.base = max(1, base)
        self.cap = max(self.base, cap)
    }

    /// The pause before retry number `attempt` (1 for the first retry): a random point in
    /// [half, all] of `base × 2^(attempt−1)`, capped; nil when it would not end before `remaining`.
    func pause(before attempt: Int, remaining: Int64, random: Double) -> Int64? {
        let exponent = min(max(attempt - 1, 0), 30)
        let full = min(cap, base.multipliedReportingOverflow(by: Int64(1) << exponent).overflow ? cap : base << exponent)
        let pause = full / 2 + Int64(Double(full / 2) * min(max(random, 0), 1))
        return pause < remaining ? pause : nil
    }
}
