/// How busy a client is right now.
public struct UpstreamLoad: Sendable, Equatable {
    /// Requests holding a concurrency slot (the model-list probe does not take one).
    public let inFlight: Int
    /// Requests waiting for a slot.
    public let waiting: Int
    /// The endpoint's limit.
    public let limit: Int
}
