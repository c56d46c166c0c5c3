/// Why an upstream endpoint's settings were refused: the setting, and what was wrong with it.
///
/// Its description is the line an operator sees at start, e.g.
/// `upstream base URL: must end with /v1 (like http://127.0.0.1:8000/v1), got path "/api"`.
/// It may name the base URL or a file path (operators wrote them); it never contains the API key.
public struct UpstreamConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting that is wrong: `base URL`, `model`, `API key`, `CA file`, `timeouts`,
    /// `max concurrent requests` or `max response bytes`.
    public let setting: String
    /// What is wrong with it.
    public let reason: String

    /// Makes an error about `setting`, for callers that check settings of their own.
    public init(_ setting: String, _ reason: String) {
        self.setting = setting
        self.reason = reason
    }

    public var description: String { "upstream \(setting): \(reason)" }
}
