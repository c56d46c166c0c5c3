/// The kind of an error of type `Domain`: a name, equal only to the code of the same name in the same
/// domain.
///
/// The project's errors are structs carrying a code rather than enums, so that a library can add
/// kinds without breaking callers that compare or `switch` over them. Each error used to declare its
/// own `Code` struct around a private enum, with one static member per case; this one generic is that
/// struct, written once. An error declares its codes as static members of a constrained extension,
/// next to itself, and names the type for its callers:
///
/// ```swift
/// public struct RedisError: Error {
///     /// The kind of failure; compare with the static members (`error.code == .timeout`).
///     public typealias Code = ErrorCode<RedisError>
///     public let code: Code
/// }
///
/// extension ErrorCode where Domain == RedisError {
///     /// No reply within the command timeout.
///     public static var timeout: Self { Self("timeout") }
/// }
/// ```
///
/// (An error that is a code and a message and nothing more is a ``CodedError``, which declares the
/// struct.) Callers read as before: `error.code == .timeout`, `[.timeout, .closed].contains(error.code)`,
/// `case .timeout:` in a `switch` (with a `default:`, since more codes may come).
///
/// `Domain` is only a tag, never stored: it keeps the codes of one error apart from another's, so a
/// `RedisError` code cannot be compared with or passed as an `UpstreamError` one, though both have a
/// `timeout`. Within a domain, codes are equal when their names are, so each name must be used once.
/// The members are computed (`static var`) because Swift has no static stored properties in generic
/// types; building one is copying a string literal.
public struct ErrorCode<Domain>: Hashable, Sendable, CustomStringConvertible {
    /// The code as messages and logs show it: `bulk string too long`, `timeout`.
    public let name: String

    /// A code of `Domain`. Call it only where that domain declares its codes.
    /// - Parameter name: What the code is called in messages, unique within the domain.
    public init(_ name: String) {
        self.name = name
    }

    /// The code's ``name``.
    public var description: String { name }
}
