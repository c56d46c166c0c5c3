import Crypto
@testable import frontd
import IPC
import Testing

/// The signature and timestamp checks of POST /webhooks/ingest.
@Suite struct WebhookVerifierTests {
    static let secret = Array("whsec-test-0123456789abcdef".utf8)
    static let now = 1_800_000_000
    static let body = Array(#"{"id":"evt_1","type":"ping","data":{"n":1}}"#.utf8)

    /// The header value as a sender computes it, with HMAC directly (not through the verifier).
    static func sign(_ body: [UInt8], timestamp: String, secret: [UInt8] = secret) -> String {
        "sha256=" + Hex.encode(HMAC.authenticationCode(for: Array((timestamp + ".").utf8) + body, key: secret))
    }

    let verifier = WebhookVerifier(secret: secret, window: 300)

    func verify(_ signature: [String], _ timestamp: [String], body: [UInt8] = body, now: Int = now) -> Result<Int, WebhookRefusal> {
        do throws(WebhookRefusal) {
            return .success(try verifier.verify(signature: signature, timestamp: timestamp, body: body, now: now))
        } catch {
            return .failure(error)
        }
    }

    @Test func goodSignatureIsAccepted() {
        let ts = String(Self.now - 10)
        #expect(verify([Self.sign(Self.body, timestamp: ts)], [ts]) == .success(Self.now - 10))
        // Upper-case hex is the same signature.
        #expect(verify([Self.sign(Self.body, timestamp: ts).uppercased().replacingOccurrences(of: "SHA256=", with: "sha256=")], [ts])
                == .success(Self.now - 10))
        // The verifier's own signing helper agrees with the independent construction.
        #expect(verifier.signature(timestamp: Self.now - 10, body: Self.body) == Self.sign(Self.body, timestamp: ts))
    }

    @Test func wrongSecretIsRefused() {
        let ts = String(Self.now)
        let other = Self.sign(Self.body, timestamp: ts, secret: Array("whsec-test-0123456789abcdeF".utf8))
        #expect(verify([other], [ts]) == .failure(.badSignature))
    }

    @Test func bodyChangedByOneByteIsRefused() {
        let ts = String(Self.now)
        let signature = Self.sign(Self.body, timestamp: ts)
        for i in [0, Self.body.count / 2, Self.body.count - 1] {
            var changed = Self.body
            changed[i] ^= 0x01
            #expect(verify([signature], [ts], body: changed) == .failure(.badSignature), "byte \(i)")
        }
        // One byte more, one byte less.
        #expect(verify([signature], [ts], body: Self.body + [0x20]) == .failure(.badSignature))
        #expect(verify([signature], [ts], body: Array(Self.body.dropLast())) == .failure(.badSignature))
    }

    @Test func timestampIsPartOfTheSignature() {
        let signature = Self.sign(Self.body, timestamp: String(Self.now))
        #expect(verify([signature], [String(Self.now + 1)]) == .failure(.badSignature))
    }

    @Test func staleAndFutureTimestampsAreRefused() {
        for skew in [-301, -10_000, 301, 86_400] {
            let ts = String(Self.now + skew)
            #expect(verify([Self.sign(Self.body, timestamp: ts)], [ts]) == .failure(.outsideWindow(skew: skew, window: 300)), "skew \(skew)")
        }
        // The window's edges are inside.
        for skew in [-300, 300] {
            let ts = String(Self.now + skew)
            #expect(verify([Self.sign(Self.body, timestamp: ts)], [ts]) == .success(Self.now + skew))
        }
        let e = WebhookRefusal.outsideWindow(skew: -301, window: 300).apiError
        #expect(e.status.code == 401 && e.code == "timestamp_out_of_window" && e.message.contains("301 s in the past"))
    }

    @Test func missingAndRepeatedHeadersAreRefused() {
        let ts = String(Self.now)
        let signature = Self.sign(Self.body, timestamp: ts)
        #expect(verify([], [ts]) == .failure(.missingHeader("X-Infer-Signature")))
        #expect(verify([signature], []) == .failure(.missingHeader("X-Infer-Timestamp")))
        #expect(verify([""], [ts]) == .failure(.missingHeader("X-Infer-Signature")))
        #expect(verify([signature, signature], [ts]) == .failure(.repeatedHeader("X-Infer-Signature")))
        #expect(verify([signature], [ts, ts]) == .failure(.repeatedHeader("X-Infer-Timestamp")))
        #expect(WebhookRefusal.missingHeader("X-Infer-Signature").apiError.code == "missing_signature")
    }

    @Test(arguments: [
        "sha256=zz" + String(repeating: "0", count: 62),   // not hex
        "sha256=" + String(repeating: "0", count: 63),          // odd length
        "sha256=" + String(repeating: "0", count: 62),          // 31 bytes
        "sha256=" + String(repeating: "0", count: 66),          // 33 bytes
        "sha1=" + String(repeating: "0", count: 40),            // another scheme
        String(repeating: "0", count: 64),                      // no scheme
        "sha256= " + String(repeating: "0", count: 64),         // a space
    ])
    func malformedSignaturesAreRefused(signature: String) {
        #expect(verify([signature], [String(Self.now)]) == .failure(.malformedSignature))
    }

    @Test(arguments: ["-5", "1e9", "17000000000000", "+1800000000", " 1800000000", "1800000000.5"])
    func malformedTimestampsAreRefused(timestamp: String) {
        // Signed correctly over the odd timestamp: the signature passes, the timestamp does not.
        #expect(verify([Self.sign(Self.body, timestamp: timestamp)], [timestamp]) == .failure(.malformedTimestamp))
    }
}
