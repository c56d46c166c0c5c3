import Foundation
import Glibc
import Spawn
import Testing
import TestKit

/// Webhook secret rotation through the built frontd (docs/OPERATIONS.md, "Rotating the webhook secret"):
/// frontd alone, since an event that starts no job needs no other daemon.
@Suite("webhook secret rotation", .serialized)
struct WebhookRotationTests {
    static let newSecret = "whsec-rotation-new-0123456789"
    static let oldSecret = "whsec-rotation-old-0123456789"
    /// Seconds from now at which the test's rotation ends, at first (longer when frontd starts too late).
    static let windowSeconds = 15

    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// A ping event signed with `secret`, sent now.
    static func deliver(_ id: String, secret: String, url: String) -> CurlResult {
        curl(WebhookTests.signed(#"{"id":"\#(id)","type":"ping","data":{}}"#, secret: secret, url: url))
    }

    /// frontd started with a rotation ending `window` seconds from now, and that end; nil when frontd
    /// did not answer its health check before the end (a machine too busy for the window).
    static func startInsideWindow(_ directory: TemporaryDirectory, port: Int, window: Int) throws -> (ProcessRun, until: Int)? {
        let until = now() + window
        let frontd = try ProcessRun(product: "frontd", environment: [
            "INFER_RUNTIME_DIR": directory.path, "INFER_STATE_DIR": directory.path + "/state", "PORT": String(port),
            "BIND_ADDRESS": "127.0.0.1", "API_KEYS_FILE": directory.path + "/keys.json", "LOG_LEVEL": "info",
            "WEBHOOK_HMAC_SECRET": newSecret, "WEBHOOK_HMAC_SECRET_PREVIOUS": oldSecret, "WEBHOOK_HMAC_PREVIOUS_UNTIL": String(until),
        ])
        // Polled without leaving the thread (the test is synchronous), so a busy cooperative pool cannot
        // hold the test back past the window between two polls.
        while now() < until - window / 3 {
            if curl(["http://127.0.0.1:\(port)/health"], timeout: 2).status == 200 { return (frontd, until) }
            usleep(100_000)
        }
        _ = frontd.finish(timeout: .seconds(5))
        return nil
    }

    @Test("old and new secrets both accepted inside the window, the old one refused from its end on, the new one always; which one signed is logged, neither secret is")
    func rotation() throws {
        let directory = try TemporaryDirectory()
        let port = try freeTCPPort()
        // A window long enough for frontd to start and answer the first deliveries, short enough to wait
        // for; on a machine so busy that frontd starts too late, a longer one.
        var started: (ProcessRun, until: Int)?
        for window in [Self.windowSeconds, 4 * Self.windowSeconds, 16 * Self.windowSeconds] where started == nil {
            started = try Self.startInsideWindow(directory, port: port, window: window)
        }
        let (frontd, until) = try #require(started, "frontd never answered inside its rotation window")
        let url = "http://127.0.0.1:\(port)"

        // Inside the window: both.
        let old = Self.deliver("evt_old_inside", secret: Self.oldSecret, url: url)
        let new = Self.deliver("evt_new_inside", secret: Self.newSecret, url: url)
        try #require(Self.now() < until, "the deliveries took the whole window; nothing inside it was tested")
        #expect(old.status == 202, "\(old.body)")
        #expect(new.status == 202, "\(new.body)")
        // A third secret is no more welcome during a rotation.
        #expect(Self.deliver("evt_other", secret: "whsec-rotation-other-012345", url: url).status == 401)

        // From the stated end on, without a restart: the old secret is refused, the new one still accepted.
        while Self.now() < until { usleep(200_000) }
        let oldAfter = Self.deliver("evt_old_after", secret: Self.oldSecret, url: url)
        #expect(oldAfter.status == 401 && oldAfter.body.contains("invalid_signature"), "\(oldAfter.status) \(oldAfter.body)")
        let newAfter = Self.deliver("evt_new_after", secret: Self.newSecret, url: url)
        #expect(newAfter.status == 202, "\(newAfter.body)")

        frontd.child.signal(SIGTERM)
        let (_, log) = frontd.finish()
        let accepted = log.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.filter { $0["msg"] as? String == "webhook event accepted" }
        let byEvent = Dictionary(accepted.map { ($0["event_id"] as? String ?? "", $0["secret"] as? String ?? "") }) { a, _ in a }
        #expect(byEvent == ["evt_old_inside": "previous", "evt_new_inside": "current", "evt_new_after": "current"], "\(byEvent)")
        for secret in [Self.newSecret, Self.oldSecret] { #expect(!log.contains(secret), "a webhook secret is in frontd's log") }
    }

    @Test("a previous secret without an end, or whose end is not a time, stops frontd (and fails --check-config) with exit 78 naming the variable",
          arguments: [["WEBHOOK_HMAC_SECRET_PREVIOUS": oldSecret], ["WEBHOOK_HMAC_SECRET_PREVIOUS": oldSecret, "WEBHOOK_HMAC_PREVIOUS_UNTIL": "in a week"]])
    func refusedAtStart(_ extra: [String: String]) throws {
        let directory = try TemporaryDirectory()
        var environment = ["INFER_RUNTIME_DIR": directory.path, "INFER_STATE_DIR": directory.path + "/state", "PORT": "0",
                           "BIND_ADDRESS": "127.0.0.1", "WEBHOOK_HMAC_SECRET": Self.newSecret]
        environment.merge(extra) { _, b in b }
        let frontd = try ProcessRun(product: "frontd", environment: environment)
        let (status, log) = frontd.finish(timeout: .seconds(20))
        #expect(status == .exited(78), "\(status): \(log.suffix(1000))")
        #expect(log.contains("WEBHOOK_HMAC_PREVIOUS_UNTIL"), "\(log.suffix(1000))")
        #expect(!log.contains(Self.oldSecret) && !log.contains(Self.newSecret))
        // `frontd --check-config` (what `inferctl config check` runs) says the same before any start.
        let check = try ProcessRun(product: "frontd", arguments: ["--check-config"], environment: environment)
        let (checkStatus, checkOutput) = check.finish(timeout: .seconds(20))
        #expect(checkStatus == .exited(78) && checkOutput.contains("WEBHOOK_HMAC_PREVIOUS_UNTIL"), "\(checkStatus): \(checkOutput)")
    }
}
