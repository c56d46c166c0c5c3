import Foundation
import Glibc
import IPC
import Metrics
import Services
import Spawn
import Testing
import TestKit

@Suite("Cache: the cached executable")
struct CachedProcessTests {
    /// Runs the built `cached` with `environment` until it exits; returns its status and stderr.
    private func run(environment: [String: String]) throws -> (TerminationStatus, String) {
        try ProcessRun(product: "cached", environment: environment).finish()
    }

    @Test("CACHE_BACKEND=tiered without REDIS_URL stops it at start with status 78, naming REDIS_URL")
    func redisURLRequired() throws {
        let directory = try TemporaryDirectory()
        let (status, stderr) = try run(environment: ["INFER_RUNTIME_DIR": directory.path, "CACHE_BACKEND": "tiered"])
        #expect(status == .exited(78))
        #expect(stderr.contains("REDIS_URL"))
    }

    @Test("a bad CACHE_MAX_BYTES stops it at start with status 78, naming the variable")
    func badByteBound() throws {
        let directory = try TemporaryDirectory()
        let (status, stderr) = try run(environment: ["INFER_RUNTIME_DIR": directory.path, "CACHE_MAX_BYTES": "lots"])
        #expect(status == .exited(78))
        #expect(stderr.contains("CACHE_MAX_BYTES=lots"))
    }
}

extension CachedProcessTests {
    private static let timeout = Duration.seconds(10)

    /// Starts cached with a state directory and a fast snapshot interval.
    private func start(runtime: TemporaryDirectory, state: TemporaryDirectory) throws -> (ProcessRun, CacheClient, StatsClient) {
        let process = try ProcessRun(product: "cached", environment: [
            "INFER_RUNTIME_DIR": runtime.path, "CACHE_STATE_DIR": state.path, "CACHE_SNAPSHOT_INTERVAL": "100ms",
        ])
        let path = runtime.file("cached.sock")
        return (process, CacheClient(path: path), StatsClient(path: path, protocolName: ServiceName.cached))
    }

    @Test("killed with SIGKILL after a snapshot and started again, cached answers its old entries, exact and semantic")
    func warmRestartAfterSIGKILL() async throws {
        let runtime = try TemporaryDirectory(), state = try TemporaryDirectory()
        let vector: [Float] = (0..<384).map { $0 == 3 ? 1 : 0 }
        do {
            let (process, client, stats) = try start(runtime: runtime, state: state)
            defer {
                client.client.close()
                stats.client.close()
            }
            for index in 0..<20 {
                try await client.put(.init(key: "k\(index)", model: "m", value: [UInt8(index)]), timeout: Self.timeout)
            }
            try await client.put(
                .init(key: "semantic", model: "m", value: Array("answer".utf8), semantic: .init(group: "g", vector: vector)),
                timeout: Self.timeout)
            // Wait for a periodic snapshot holding all 21 entries, then kill without a drain.
            let snapshotted = try await eventually(within: .seconds(10)) {
                let families = try await stats.snapshot(timeout: Self.timeout)
                return families.first { $0.name == "infer_cached_snapshot_entries" }?.samples.first?.value == 21
            }
            #expect(snapshotted)
            _ = process.child.signal(SIGKILL)
            #expect(process.finish().status == .signaled(SIGKILL))
        }
        let (process, client, stats) = try start(runtime: runtime, state: state)
        defer {
            client.client.close()
            stats.client.close()
        }
        for index in 0..<20 {
            #expect(try await client.get("k\(index)", timeout: Self.timeout).value == [UInt8(index)])
        }
        let semantic = try await client.semanticGet(.init(key: .init(group: "g", vector: vector), threshold: 0.99), timeout: Self.timeout)
        #expect(semantic.value == Array("answer".utf8))
        _ = process.child.signal(SIGTERM)
        let (status, stderr) = process.finish()
        #expect(status == .exited(0))
        #expect(stderr.contains("snapshot loaded"))
    }

    @Test("a corrupted snapshot is dropped with a log line, never served; cached starts empty")
    func corruptSnapshotDropped() async throws {
        let runtime = try TemporaryDirectory(), state = try TemporaryDirectory()
        do {
            let (process, client, stats) = try start(runtime: runtime, state: state)
            try await client.put(.init(key: "k", model: "m", value: Array("secret".utf8)), timeout: Self.timeout)
            client.client.close()
            stats.client.close()
            // SIGTERM: the drain writes the last snapshot.
            _ = process.child.signal(SIGTERM)
            #expect(process.finish().status == .exited(0))
        }
        let path = state.file(SnapshotFileName.name)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count > 30)
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let (process, client, stats) = try start(runtime: runtime, state: state)
        defer {
            client.client.close()
            stats.client.close()
        }
        #expect(try await client.get("k", timeout: Self.timeout).value == nil)
        let families = try await stats.snapshot(timeout: Self.timeout)
        #expect(families.first { $0.name == "infer_cached_snapshots_total" }?.samples
            .first { $0.labels == [MetricLabel("result", "dropped")] }?.value == 1)
        _ = process.child.signal(SIGTERM)
        let (status, stderr) = process.finish()
        #expect(status == .exited(0))
        #expect(stderr.contains("snapshot dropped"))
        #expect(stderr.contains("checksum mismatch"))
        #expect(FileManager.default.fileExists(atPath: path + ".corrupt"))
    }
}

/// The snapshot's file name, as cached writes it (kept here so the test does not link cached's internals).
private enum SnapshotFileName {
    static let name = "cache.snapshot"
}
