
/// A webhook's body: `{"id": str, "type": str, "data": {...}}`.
struct WebhookEvent {
    /// The event type that starts an asynchronous generation.
    static let inferenceRequest = "inference.request"

    /// The sender's id for the event, unique per event: a second delivery within the window is a replay.
    var id: String
    var type: String
    /// The event's payload (empty when absent).
    var data: JSONObject

    /// Reads and checks the envelope; a problem is a 400 naming the field.
    init(body o: JSONObject) throws(APIError) {
        id = try Self.token(o["id"], "id")
        type = try Self.token(o["type"], "type")
        switch o["data"] {
        case nil, .null?: data = JSONObject()
        case .object(let d)?: data = d
        default: throw .invalid("data must be a JSON object", param: "data")
        }
    }

    /// 1 to 128 characters of `A-Z a-z 0-9 . _ : -`: safe in logs, file names and URLs.
    static func isToken(_ s: String) -> Bool {
        (1...128).contains(s.utf8.count) && s.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 58 || c == 45
        }
    }

    private static func token(_ value: JSONValue?, _ field: String) throws(APIError) -> String {
        guard let value, !value.isNull else { throw .invalid("the event has no \(field)", param: field) }
        guard let s = value.string, isToken(s) else {
            throw .invalid("\(field) must be a string of 1 to 128 characters from A-Z a-z 0-9 . _ : -", param: field)
        }
        return s
    }
}
