import IPC
import Metrics
/// Asks any daemon for its metrics over its own socket (every service answers `StatsProtocol.statsType`).
public struct StatsClient: Sendable {
    public let client: IPCClient
    public init(path: String, protocolName: String) {
        client = IPCClient(path: path, protocolName: protocolName, version: ServiceName.version)
    }

    public func snapshot(timeout: Duration) async throws -> [MetricFamily] {
        let bytes = try await client.call(type: StatsProtocol.statsType, payload: [], timeout: timeout)
        do {
            return try MetricsSnapshot(decoding: bytes).families
        } catch {
            throw IPCError.protocolViolation("undecodable stats: \(error)")
        }
    }
}

extension IPCCall {
    /// Answers a stats request with `registry`'s families. Returns false when the call is not one.
    public func answerStats(from registry: MetricsRegistry) -> Bool {
        guard type == StatsProtocol.statsType else { return false }
        _ = reply(MetricsSnapshot(families: registry.snapshot()).encoded())
        return true
    }
}
