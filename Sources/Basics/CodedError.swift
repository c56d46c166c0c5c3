/// An error that is a code and a message and nothing more, for a library whose callers compare the code
/// and show the message (a parser's violations, a URL's faults).
///
/// Each such error used to declare the same struct: its code, its message, an initialiser and a
/// description. This one generic is that struct; an error of this kind is a tag type that says how its
/// description starts, a type alias, and its codes (``ErrorCode``) next to it:
///
/// ```swift
/// public enum RedisURLFault: ErrorDomain {
///     public static let summary = "invalid Redis URL"
/// }
/// /// A Redis URL that could not be used, with what was wrong in it.
/// public typealias RedisURLError = CodedError<RedisURLFault>
///
/// extension ErrorCode where Domain == RedisURLError {
///     /// The port is not a number from 1 to 65535.
///     public static var port: Self { Self("port") }
/// }
/// ```
///
/// Callers compare codes (`error.code == .port`) and print the error (`invalid Redis URL: port 0 ...`).
/// An error that carries more (a status, a server's reply) is a struct of its own with an ``ErrorCode``.
public struct CodedError<Kind: ErrorDomain>: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error's codes: compare with the static members of its extension (`error.code == .port`).
    public typealias Code = ErrorCode<CodedError<Kind>>

    /// What kind of error this is.
    public let code: Code
    /// What was wrong, with the offending value or limit.
    public let message: String

    /// An error of `code`.
    /// - Parameters:
    ///   - code: Its code.
    ///   - message: What was wrong, and where.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `summary: message`, e.g. `RESP protocol error: bulk length 99999999999 exceeds 536870912`.
    public var description: String { "\(Kind.summary): \(message)" }
}

/// The tag of a ``CodedError``: what kind of error it is, in the words its description starts with.
public protocol ErrorDomain: Sendable {
    /// The start of every description, e.g. `RESP protocol error`.
    static var summary: String { get }
}
