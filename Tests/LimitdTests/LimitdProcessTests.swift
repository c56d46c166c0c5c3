import Foundation
import Glibc
import IPC
import Services
import Spawn
import Testing
import TestKit

@Suite("Limit: the limitd executable")
struct LimitdProcessTests {
    @Test("a bad RATE_LIMIT_RPM stops it at start with status 78, naming the variable")
    func badSetting() throws {
        let directory = try TemporaryDirectory()
        let process = try ProcessRun(product: "limitd", environment: ["INFER_RUNTIME_DIR": directory.path, "RATE_LIMIT_RPM": "abc"])
        let (status, stderr) = process.finish()
        #expect(status == .exited(78))
        #expect(stderr.contains("RATE_LIMIT_RPM=abc"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("limitd.sock")))
    }

    @Test("the Redis backend's settings: a bad value, or redis without REDIS_URL, stops it with status 78 and a line naming the variable",
          arguments: [
              (["LIMITS_BACKEND": "postgres"], "LIMITS_BACKEND=postgres: expected one of memory, redis"),
              (["LIMITS_BACKEND": "redis"], "LIMITS_BACKEND=redis needs REDIS_URL"),
              (["LIMITS_BACKEND": "redis", "REDIS_URL": "rediss://:pw@h"], "REDIS_URL=<hidden>: expected redis://"),
              (["LIMITS_REDIS_FAILURE": "maybe"], "LIMITS_REDIS_FAILURE=maybe: expected one of open, closed"),
              (["LIMITS_REDIS_TIMEOUT_MS": "0"], "LIMITS_REDIS_TIMEOUT_MS=0: expected a duration in milliseconds between 1 and 60000"),
          ])
    func badRedisSetting(_ environment: [String: String], _ line: String) throws {
        let directory = try TemporaryDirectory()
        let process = try ProcessRun(product: "limitd", environment: environment.merging([
            "INFER_RUNTIME_DIR": directory.path, "INFER_STATE_DIR": directory.path,
        ]) { a, _ in a })
        let (status, stderr) = process.finish()
        #expect(status == .exited(78))
        #expect(stderr.contains(line), "\(stderr)")
        #expect(!stderr.contains("pw@"), "the password never shows")
    }

    @Test("with valid settings it binds $INFER_RUNTIME_DIR/limitd.sock, answers Admit, and drains on SIGTERM")
    func servesAdmit() async throws {
        let directory = try TemporaryDirectory()
        let process = try ProcessRun(product: "limitd", environment: [
            "INFER_RUNTIME_DIR": directory.path, "INFER_STATE_DIR": directory.file("state"), "RATE_LIMIT_RPM": "2", "RATE_LIMIT_WINDOW_SEC": "30",
        ])
        let path = ServicePaths.socket("limitd", environment: ["INFER_RUNTIME_DIR": directory.path])
        let client = LimitClient(path: path)
        // The client retries connecting within the timeout while the daemon starts.
        let first = try await client.admit(.init(key: "k", route: "/v1/infer"), timeout: .seconds(10))
        #expect(first == .init(allowed: true, limit: 1, remaining: 0, retryAfterMs: 0))
        let second = try await client.admit(.init(key: "k", route: "/v1/infer"), timeout: .seconds(5))
        #expect(!second.allowed)
        #expect(second.retryAfterMs > 29_000 && second.retryAfterMs <= 30_000)
        client.client.close()

        _ = process.child.signal(SIGTERM)
        let (status, stderr) = process.finish()
        #expect(status == .exited(0))
        #expect(stderr.contains("drained"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
