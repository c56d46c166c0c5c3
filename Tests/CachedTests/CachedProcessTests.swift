import Foundation
import Glibc
import IPC
import Spawn
import Testing
import TestKit

@Suite("Cache: the cached executable")
struct CachedProcessTests {
    /// Runs the built `cached` with `environment` until it exits; returns its status and stderr.
    private func run(environment: [String: String]) throws -> (TerminationStatus, String) {
        try ProcessRun(product: "cached", environment: environment).finish()
    }

    @Test("CACHE_BACKEND=redis stops it at start with status 78, saying redis is not implemented yet")
    func redisRefused() throws {
        let directory = try TemporaryDirectory()
        let (status, stderr) = try run(environment: ["INFER_RUNTIME_DIR": directory.path, "CACHE_BACKEND": "redis"])
        #expect(status == .exited(78))
        #expect(stderr.contains("CACHE_BACKEND=redis"))
        #expect(stderr.contains("not implemented"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("cached.sock")))
    }

    @Test("a bad CACHE_MAX_BYTES stops it at start with status 78, naming the variable")
    func badByteBound() throws {
        let directory = try TemporaryDirectory()
        let (status, stderr) = try run(environment: ["INFER_RUNTIME_DIR": directory.path, "CACHE_MAX_BYTES": "lots"])
        #expect(status == .exited(78))
        #expect(stderr.contains("CACHE_MAX_BYTES=lots"))
    }
}
