import Foundation
import Registry
import Settings

/// The API key of an upstream deployment, from where the registry says it is: the environment
/// variable named by `api_key_env`, or the file named by `api_key_file` (one line; a trailing newline is
/// dropped). The key itself is never in the registry, the logs or an error message.
enum UpstreamCredentials {
    /// - Parameters:
    ///   - deployment: The deployment.
    ///   - environment: modeld's environment.
    /// - Returns: The key, or nil when the deployment names none.
    /// - Throws: ``ConfigError`` naming the variable or file (never the key) when it is named but unset,
    ///   empty, unreadable or more than one line.
    static func apiKey(for deployment: Deployment, environment: [String: String]) throws(ConfigError) -> String? {
        if let variable = deployment.apiKeyEnvironmentVariable {
            guard let value = environment[variable], !value.isEmpty else {
                throw ConfigError("deployment \(deployment.name) takes its API key from \(variable), which is unset or empty",
                                  variable: variable)
            }
            return try checked(value, source: "\(variable)", variable: variable)
        }
        if let file = deployment.apiKeyFile {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigError("deployment \(deployment.name) takes its API key from \(file), which cannot be read",
                                  variable: "INFER_MODEL_REGISTRY")
            }
            let key = text.hasSuffix("\n") ? String(text.dropLast()) : text
            return try checked(key.hasSuffix("\r") ? String(key.dropLast()) : key, source: file, variable: "INFER_MODEL_REGISTRY")
        }
        return nil
    }

    private static func checked(_ key: String, source: String, variable: String) throws(ConfigError) -> String {
        guard !key.isEmpty else { throw ConfigError("the API key in \(source) is empty", variable: variable) }
        guard !key.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else {
            throw ConfigError("the API key in \(source) holds spaces, line breaks or control characters", variable: variable)
        }
        return key
    }
}
