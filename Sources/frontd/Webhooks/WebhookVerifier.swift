import Crypto
import HTTP
import IPC

/// The headers of a signed webhook request.
enum WebhookHeader {
    /// `sha256=<64 hex digits>`: HMAC-SHA256(secret, timestamp + "." + raw body).
    static let signature = "X-Infer-Signature"
    /// The sender's clock when it signed, in whole seconds since the Unix epoch.
    static let timestamp = "X-Infer-Timestamp"
    /// The prefix of the signature header's value: the only algorithm there is.
    static let scheme = "sha256="
}

/// Why a webhook request was not authenticated. Each is answered 401.
enum WebhookRefusal: Error, Equatable {
    /// A required header is absent (its name).
    case missingHeader(String)
    /// A header appears more than once (its name): which one was signed would be ambiguous.
    case repeatedHeader(String)
    /// The signature header is not `sha256=` and 64 hex digits.
    case malformedSignature
    /// The timestamp header is not whole seconds since the epoch.
    case malformedTimestamp
    /// The signature does not match the secret, the timestamp and the body.
    case badSignature
    /// The timestamp is more than the window before or after now (by how many seconds).
    case outsideWindow(skew: Int, window: Int)

    /// The 401 answered for it.
    var apiError: APIError {
        let (message, code, param): (String, String, String?) = switch self {
        case .missingHeader(let h): ("the \(h) header is missing; webhooks must be signed (docs/webhooks.md)", "missing_signature", h)
        case .repeatedHeader(let h): ("the \(h) header appears more than once", "invalid_signature", h)
        case .malformedSignature:
            ("\(WebhookHeader.signature) must be sha256= followed by 64 hex digits", "invalid_signature", WebhookHeader.signature)
        case .malformedTimestamp:
            ("\(WebhookHeader.timestamp) must be whole seconds since the Unix epoch", "invalid_timestamp", WebhookHeader.timestamp)
        case .badSignature:
            ("the signature does not match the body and timestamp (check the secret, and sign the raw body exactly as sent)",
             "invalid_signature", WebhookHeader.signature)
        case .outsideWindow(let skew, let window):
            ("\(WebhookHeader.timestamp) is \(abs(skew)) s in the \(skew < 0 ? "past" : "future"); at most \(window) s either way is accepted",
             "timestamp_out_of_window", WebhookHeader.timestamp)
        }
        return APIError(status: HTTPStatus(code: 401, reason: "Unauthorized"), message: message, type: "authentication_error",
                        code: code, param: param)
    }
}

/// A request the verifier accepted: its signed timestamp, and which secret signed it.
struct VerifiedWebhook: Sendable, Equatable {
    /// The signed timestamp, seconds since the epoch.
    let timestamp: Int
    /// Signed with the secret being retired (`WEBHOOK_HMAC_SECRET_PREVIOUS`), inside its window.
    let byPreviousSecret: Bool
}

/// Checks a webhook's signature and timestamp against the secret, and during a rotation against the
/// previous secret too, until the rotation's end.
///
/// The signed string is `timestamp + "." + raw body`, so neither can be changed or moved to another
/// request; the window bounds how long a captured request could be replayed, and `ReplayGuard` refuses
/// a replay inside it.
struct WebhookVerifier: Sendable {
    /// The MAC keyed with the secret once; copied for each request.
    private let keyed: HMAC
    /// The MAC keyed with the previous secret, while a rotation is configured.
    private let previous: HMAC?
    /// Seconds since the epoch from which the previous secret is refused.
    let previousUntil: Int
    /// Seconds the timestamp may differ from now, either way.
    let window: Int

    /// A verifier of `secret`, and of `rotation`'s previous secret until its end.
    init(secret: some Collection<UInt8>, window: Int, rotation: SecretRotation? = nil) {
        keyed = HMAC(key: secret)
        previous = rotation.map { HMAC(key: $0.previousSecret) }
        previousUntil = rotation?.until ?? 0
        self.window = window
    }

    /// Checks a request's signature headers and body.
    /// - Returns: The signed timestamp and which secret signed it.
    func verify(_ request: HTTPRequest, now: Int) throws(WebhookRefusal) -> VerifiedWebhook {
        try check(signature: request.headers.values(for: WebhookHeader.signature),
                  timestamp: request.headers.values(for: WebhookHeader.timestamp),
                  body: request.body, now: now)
    }

    /// Checks the values of the signature and timestamp headers (every occurrence) against a body.
    /// - Returns: The signed timestamp.
    func verify(signature: [String], timestamp: [String], body: [UInt8], now: Int) throws(WebhookRefusal) -> Int {
        try check(signature: signature, timestamp: timestamp, body: body, now: now).timestamp
    }

    /// Checks the values of the signature and timestamp headers (every occurrence) against a body.
    ///
    /// The signature is checked before the timestamp, so a caller without the secret learns nothing
    /// about the window. The previous secret is tried only before `previousUntil` by `now` (frontd's
    /// clock, not the sender's timestamp, which the sender chooses).
    /// - Returns: The signed timestamp and which secret signed it.
    func check(signature: [String], timestamp: [String], body: [UInt8], now: Int) throws(WebhookRefusal) -> VerifiedWebhook {
        let signatureText = try Self.single(signature, WebhookHeader.signature)
        let timestampText = try Self.single(timestamp, WebhookHeader.timestamp)
        guard signatureText.hasPrefix(WebhookHeader.scheme),
              let mac = Hex.decode(signatureText.dropFirst(WebhookHeader.scheme.count)), mac.count == HMAC.size else {
            throw .malformedSignature
        }
        let byPrevious: Bool
        if Self.signs(keyed, mac, timestampText, body) {
            byPrevious = false
        } else if let previous, now < previousUntil, Self.signs(previous, mac, timestampText, body) {
            byPrevious = true
        } else {
            throw .badSignature
        }
        // Up to 12 digits: seconds until the year 33658, and no overflow below.
        guard (1...12).contains(timestampText.utf8.count), timestampText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let signed = Int(timestampText) else {
            throw .malformedTimestamp
        }
        let skew = signed - now
        guard abs(skew) <= window else { throw .outsideWindow(skew: skew, window: window) }
        return VerifiedWebhook(timestamp: signed, byPreviousSecret: byPrevious)
    }

    /// Whether `mac` is the HMAC of `timestamp + "." + body` under `key` (compared in constant time).
    private static func signs(_ key: HMAC, _ mac: [UInt8], _ timestamp: String, _ body: [UInt8]) -> Bool {
        var h = key
        h.update(timestamp.utf8)
        h.update(CollectionOfOne(UInt8(ascii: ".")))
        h.update(body)
        return h.isValid(mac)
    }

    /// The signature header's value for a body signed at `timestamp`: what a sender computes.
    func signature(timestamp: Int, body: [UInt8]) -> String {
        var h = keyed
        h.update(String(timestamp).utf8)
        h.update(CollectionOfOne(UInt8(ascii: ".")))
        h.update(body)
        return WebhookHeader.scheme + Hex.encode(h.finalize())
    }

    private static func single(_ values: [String], _ name: String) throws(WebhookRefusal) -> String {
        guard let first = values.first, !first.isEmpty else { throw .missingHeader(name) }
        guard values.count == 1 else { throw .repeatedHeader(name) }
        return first
    }
}
