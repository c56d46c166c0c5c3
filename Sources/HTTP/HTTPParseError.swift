/// Why a request could not be parsed, with the status the server answers before closing the connection.
///
/// Compare errors with `==` (it compares the kind of failure, not the detail message), or read ``status``.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case badRequestLine
        case unsupportedVersion
        case badTarget
        case uriTooLong
        case headerSectionTooLarge
        case tooManyHeaders
        case badHeaderName
        case badHeaderValue
        case obsoleteLineFolding
        case badLineEnding
        case badContentLength
        case conflictingFraming
        case unsupportedTransferEncoding
        case bodyTooLarge
        case badChunk
        case badHost
        case unsupportedExpectation
    }

    let kind: Kind
    /// What was wrong, and where (e.g. `header line 3: whitespace before the colon`).
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The status to answer with: 400, 413, 414, 417, 431, 501 or 505.
    public var status: HTTPStatus {
        switch kind {
        case .uriTooLong: return .uriTooLong
        case .unsupportedVersion: return .httpVersionNotSupported
        case .headerSectionTooLarge, .tooManyHeaders: return .requestHeaderFieldsTooLarge
        case .bodyTooLarge: return .contentTooLarge
        case .unsupportedTransferEncoding: return .notImplemented
        case .unsupportedExpectation: return .expectationFailed
        default: return .badRequest
        }
    }

    public var description: String { "\(status.code) \(message)" }

    public static func == (a: HTTPParseError, b: HTTPParseError) -> Bool { a.kind == b.kind }

    /// The request line is not `method SP target SP version`.
    public static let badRequestLine = HTTPParseError(.badRequestLine, "malformed request line")
    /// The version is well-formed but not 1.0 or 1.1 (505).
    public static let unsupportedVersion = HTTPParseError(.unsupportedVersion, "unsupported HTTP version")
    /// The request target is not in origin, absolute or asterisk form, or holds control bytes.
    public static let badTarget = HTTPParseError(.badTarget, "malformed request target")
    /// The request target exceeds ``HTTPLimits/maxTargetBytes`` (414).
    public static let uriTooLong = HTTPParseError(.uriTooLong, "request target too long")
    /// The request line and headers exceed ``HTTPLimits/maxHeaderBytes`` (431).
    public static let headerSectionTooLarge = HTTPParseError(.headerSectionTooLarge, "header section too large")
    /// More header lines than ``HTTPLimits/maxHeaderCount`` (431).
    public static let tooManyHeaders = HTTPParseError(.tooManyHeaders, "too many header fields")
    /// A header name is empty or not a token (this includes whitespace before the colon).
    public static let badHeaderName = HTTPParseError(.badHeaderName, "malformed header name")
    /// A header value holds NUL, CR or another control byte.
    public static let badHeaderValue = HTTPParseError(.badHeaderValue, "malformed header value")
    /// A header line starts with whitespace (obsolete line folding).
    public static let obsoleteLineFolding = HTTPParseError(.obsoleteLineFolding, "obsolete line folding")
    /// A CR not followed by LF.
    public static let badLineEnding = HTTPParseError(.badLineEnding, "bare CR in line ending")
    /// Content-Length is not digits only, or its duplicates differ.
    public static let badContentLength = HTTPParseError(.badContentLength, "malformed Content-Length")
    /// Both Content-Length and Transfer-Encoding, or Transfer-Encoding in HTTP/1.0 (request smuggling).
    public static let conflictingFraming = HTTPParseError(.conflictingFraming, "conflicting message framing")
    /// A transfer coding other than `chunked` alone (501).
    public static let unsupportedTransferEncoding = HTTPParseError(.unsupportedTransferEncoding, "unsupported transfer coding")
    /// The body exceeds ``HTTPLimits/maxBodyBytes`` (413).
    public static let bodyTooLarge = HTTPParseError(.bodyTooLarge, "body too large")
    /// A malformed chunk size, chunk extension or chunk terminator.
    public static let badChunk = HTTPParseError(.badChunk, "malformed chunk")
    /// An HTTP/1.1 request without exactly one Host header.
    public static let badHost = HTTPParseError(.badHost, "missing or repeated Host header")
    /// An Expect header other than `100-continue` (417).
    public static let unsupportedExpectation = HTTPParseError(.unsupportedExpectation, "unsupported expectation")
}
