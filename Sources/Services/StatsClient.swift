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
