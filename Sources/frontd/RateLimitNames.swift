import Basics

/// How limitd's limits and figures read in frontd's error messages and `/v1/usage`.
enum RateLimitNames {
    /// A limit's name from limitd (`tpm`, `model_rpm`, ...) in words: "tokens per minute limit for this model".
    static func describe(_ limit: String) -> String {
        let model = limit.hasPrefix("model_")
        let base = model ? String(limit.dropFirst(6)) : limit
        let words: String
        switch base {
        case "rpm": words = "requests per minute limit"
        case "rph": words = "requests per hour limit"
        case "tpm": words = "tokens per minute limit"
        case "max_parallel": words = "limit of requests at once"
        case "budget": words = "budget"
        case "": return ""
        default: words = base + " limit"
        }
        return words + (model ? " for this model" : " of this key")
    }

    /// Seconds since 1970 as an RFC 3339 UTC time (`2026-01-31T00:00:00Z`).
    static func timestamp(_ seconds: Int64) -> String {
        RFC3339Time.string(seconds: seconds)
    }
}
