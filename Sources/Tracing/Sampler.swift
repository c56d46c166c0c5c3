import Wire

/// Which traces are recorded, as `OTEL_TRACES_SAMPLER` names them: `always_on`, `always_off`,
/// `traceidratio` (with `OTEL_TRACES_SAMPLER_ARG`, a probability), and their `parentbased_` forms, which
/// follow the caller's sampled flag when there is a caller and use the inner sampler for a new trace.
public enum Sampler: Sendable, Equatable {
    case alwaysOn
    case alwaysOff
    /// Records a trace when the low 64 bits of its id fall under `ratio` × 2⁶⁴, so every daemon decides
    /// the same for the same trace.
    case traceIDRatio(Double)
    /// Follows the parent's decision; a root uses the inner sampler.
    indirect case parentBased(root: Sampler)

    /// The names `OTEL_TRACES_SAMPLER` takes.
    public static let names = ["always_on", "always_off", "traceidratio", "parentbased_always_on",
                               "parentbased_always_off", "parentbased_traceidratio"]

    /// The sampler `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` describe.
    /// - Parameters:
    ///   - name: One of ``names`` (any case).
    ///   - argument: The ratio of the `traceidratio` samplers, 0...1 (ignored by the others).
    /// - Returns: The sampler, or nil for an unknown name.
    public static func named(_ name: String, argument: Double) -> Sampler? {
        let ratio = min(1, max(0, argument))
        switch name.lowercased() {
        case "always_on": return .alwaysOn
        case "always_off": return .alwaysOff
        case "traceidratio": return .traceIDRatio(ratio)
        case "parentbased_always_on": return .parentBased(root: .alwaysOn)
        case "parentbased_always_off": return .parentBased(root: .alwaysOff)
        case "parentbased_traceidratio": return .parentBased(root: .traceIDRatio(ratio))
        default: return nil
        }
    }

    /// Whether a span of `traceID` under `parent` is recorded.
    public func shouldSample(traceID: TraceID, parent: TraceContext?) -> Bool {
        switch self {
        case .alwaysOn: return true
        case .alwaysOff: return false
        case .traceIDRatio(let ratio):
            if ratio >= 1 { return true }
            if ratio <= 0 { return false }
            return Double(traceID.low) < ratio * 18_446_744_073_709_551_616.0
        case .parentBased(let root):
            if let parent { return parent.isSampled }
            return root.shouldSample(traceID: traceID, parent: nil)
        }
    }
}
