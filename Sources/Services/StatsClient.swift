import IPC
import Metrics
import Wire

/// Asks any daemon for its metrics over its own socket (every service answers `StatsProtocol.statsType`,
/// and since exemplars `statsWithExemplarsType`).
public struct StatsClient: Sendable {
    public let client: IPCClient

    public init(path: String, protocolName: String) {
        client = IPCClient(path: path, protocolName: protocolName, version: ServiceName.version)
    }

    /// The daemon's families, histograms with their exemplars when the daemon keeps them. A daemon older
    /// than exemplars (during a rolling restart) answers their type as unknown and is asked again with the
    /// plain type: one more round trip per scrape, only while it runs.
    public func snapshot(timeout: Duration) async throws -> [MetricFamily] {
        do {
            let bytes = try await client.call(type: StatsProtocol.statsWithExemplarsType, payload: [], timeout: timeout)
            return try decode { try MetricsSnapshotWithExemplars(decoding: bytes).families }
        } catch IPCError.remote(let code, _) where code == IPCErrorCode.unknownType {
            let bytes = try await client.call(type: StatsProtocol.statsType, payload: [], timeout: timeout)
            return try decode { try MetricsSnapshot(decoding: bytes).families }
        }
    }

    private func decode(_ body: () throws -> [MetricFamily]) throws -> [MetricFamily] {
        do {
            return try body()
        } catch {
            throw IPCError.protocolViolation("undecodable stats: \(error)")
        }
    }
}
