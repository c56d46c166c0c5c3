import Crypto
@testable import frontd
import Settings
import Testing

/// Webhook secret rotation: `WEBHOOK_HMAC_SECRET_PREVIOUS` accepted until `WEBHOOK_HMAC_PREVIOUS_UNTIL`.
@Suite struct WebhookSecretRotationTests {
    static let new = Array("whsec-new-0123456789abcdef".utf8)
    static let old = Array("whsec-old-0123456789abcdef".utf8)
    static let until = 1_800_000_000
    static let body = Array(#"{"id":"evt_1","type":"ping"}"#.utf8)

    static func sign(_ secret: [UInt8], timestamp: Int) -> String {
        "sha256=" + Hex.encode(HMAC.authenticationCode(for: Array("\(timestamp).".utf8) + body, key: secret))
    }

    let verifier = WebhookVerifier(secret: new, window: 300, rotation: SecretRotation(previousSecret: old, until: until))

    func check(_ secret: [UInt8], now: Int) -> Result<VerifiedWebhook, WebhookRefusal> {
        do throws(WebhookRefusal) {
            return .success(try verifier.check(signature: [Self.sign(secret, timestamp: now)], timestamp: [String(now)], body: Self.body, now: now))
        } catch {
            return .failure(error)
        }
    }

    @Test("inside the window both secrets are accepted, and the verifier says which signed")
    func bothInsideTheWindow() {
        for now in [Self.until - 86_400, Self.until - 1] {
            #expect(check(Self.new, now: now) == .success(VerifiedWebhook(timestamp: now, byPreviousSecret: false)))
            #expect(check(Self.old, now: now) == .success(VerifiedWebhook(timestamp: now, byPreviousSecret: true)))
        }
    }

    @Test("from the stated end on, the previous secret is refused and the new one still accepted")
    func previousRefusedAfterTheEnd() {
        for now in [Self.until, Self.until + 1, Self.until + 86_400 * 365] {
            #expect(check(Self.old, now: now) == .failure(.badSignature), "at \(now)")
            #expect(check(Self.new, now: now) == .success(VerifiedWebhook(timestamp: now, byPreviousSecret: false)))
        }
    }

    @Test("the end is frontd's clock, not the sender's timestamp: an old signature dated before the end is refused after it")
    func senderCannotBackdate() throws {
        let signedAt = Self.until - 10, now = Self.until + 10
        let result: Result<VerifiedWebhook, WebhookRefusal>
        do throws(WebhookRefusal) {
            result = .success(try verifier.check(signature: [Self.sign(Self.old, timestamp: signedAt)], timestamp: [String(signedAt)],
                                                 body: Self.body, now: now))
        } catch {
            result = .failure(error)
        }
        #expect(result == .failure(.badSignature))
    }

    @Test("a third secret is refused inside the window too")
    func otherSecretRefused() {
        #expect(check(Array("whsec-other-0123456789abcd".utf8), now: Self.until - 5) == .failure(.badSignature))
    }

    @Test("without a rotation only the secret works")
    func noRotation() throws {
        let plain = WebhookVerifier(secret: Self.new, window: 300)
        let now = Self.until - 100
        #expect(throws: WebhookRefusal.badSignature) {
            try plain.check(signature: [Self.sign(Self.old, timestamp: now)], timestamp: [String(now)], body: Self.body, now: now)
        }
    }

    @Test("WEBHOOK_HMAC_PREVIOUS_UNTIL's accepted and refused spellings")
    func timeSpellings() {
        #expect(SecretRotation.parseTime("1800000000") == 1_800_000_000)
        #expect(SecretRotation.parseTime("1970-01-01T00:00:00Z") == 0)
        #expect(SecretRotation.parseTime("2027-01-15T08:00:00Z") == 1_800_000_000)
        #expect(SecretRotation.parseTime("2026-12-31T23:59:59Z") == 1_798_761_599)
        #expect(SecretRotation.parseTime("2026-12-31t23:59:59z") == 1_798_761_599)
        for bad in ["2026-02-30T00:00:00Z", "2026-12-31T24:00:00Z", "2026-12-31T23:59:59", "2026-12-31T23:59:59+01:00",
                    "2026-12-31 23:59:59Z", "-5", "1e9", "tomorrow", "12345678901234", "2026-1-31T23:59:59Z"] {
            #expect(SecretRotation.parseTime(bad) == nil, "\(bad)")
        }
    }

    @Test("the settings: a previous secret needs an end and a new secret; the end alone changes nothing")
    func settings() throws {
        func load(_ env: [String: String]) throws -> Settings { try Settings.load(FrontSettings.table, environment: env) }
        let both = try load(["WEBHOOK_HMAC_SECRET": "whsec-new-0123456789abcdef", "WEBHOOK_HMAC_SECRET_PREVIOUS": "whsec-old-0123456789abcdef",
                             "WEBHOOK_HMAC_PREVIOUS_UNTIL": "2026-12-31T23:59:59Z"])
        let rotation = try #require(try SecretRotation.configured(both))
        #expect(rotation.previousSecret == Self.old && rotation.until == 1_798_761_599)
        #expect(try SecretRotation.configured(load(["WEBHOOK_HMAC_SECRET": "whsec-new-0123456789abcdef",
                                                     "WEBHOOK_HMAC_PREVIOUS_UNTIL": "1800000000"])) == nil)
        let noEnd = try load(["WEBHOOK_HMAC_SECRET": "whsec-new-0123456789abcdef", "WEBHOOK_HMAC_SECRET_PREVIOUS": "whsec-old-0123456789abcdef"])
        #expect(throws: ConfigError.self) { try SecretRotation.configured(noEnd) }
        let noNew = try load(["WEBHOOK_HMAC_SECRET_PREVIOUS": "whsec-old-0123456789abcdef", "WEBHOOK_HMAC_PREVIOUS_UNTIL": "1800000000"])
        #expect(throws: ConfigError.self) { try SecretRotation.configured(noNew) }
        // A bad end stops the daemon naming the variable; a short previous secret too, without echoing it.
        do {
            _ = try load(["WEBHOOK_HMAC_PREVIOUS_UNTIL": "next tuesday"])
            Issue.record("a bad end was accepted")
        } catch let error as ConfigError {
            #expect(error.variables == ["WEBHOOK_HMAC_PREVIOUS_UNTIL"])
        }
        do {
            _ = try load(["WEBHOOK_HMAC_SECRET_PREVIOUS": "short-secret"])
            Issue.record("a short previous secret was accepted")
        } catch let error as ConfigError {
            #expect(error.variables == ["WEBHOOK_HMAC_SECRET_PREVIOUS"] && !error.description.contains("short-secret"))
        }
    }
}
