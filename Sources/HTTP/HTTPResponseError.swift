/// Why a response could not be sent as asked; nothing was written to the client.
public struct HTTPResponseError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case invalidHeaderName
        case invalidHeaderValue
        case invalidStatus
        case alreadyResponded
    }

    let kind: Kind
    /// What was wrong (e.g. `header X-Note: value holds CR or LF`).
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func == (a: HTTPResponseError, b: HTTPResponseError) -> Bool { a.kind == b.kind }

    /// A header name that is empty or not a token.
    public static let invalidHeaderName = HTTPResponseError(.invalidHeaderName, "invalid header name")
    /// A header value holding CR, LF, NUL or another control byte (header injection).
    public static let invalidHeaderValue = HTTPResponseError(.invalidHeaderValue, "invalid header value")
    /// A status code outside 200...999 or a reason phrase holding control bytes.
    public static let invalidStatus = HTTPResponseError(.invalidStatus, "invalid status")
    /// This request was already answered (or its stream already started).
    public static let alreadyResponded = HTTPResponseError(.alreadyResponded, "response already sent")
}
