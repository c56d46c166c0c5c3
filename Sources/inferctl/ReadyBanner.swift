import IPC
import Registry

/// What `inferctl up` prints on stdout once every daemon is ready: how to call the API.
enum ReadyBanner {
    /// The host to show for a bind address: a wildcard is reachable on loopback.
    static func displayHost(_ bindAddress: String) -> String {
        switch bindAddress {
        case "0.0.0.0": "127.0.0.1"
        case "::": "[::1]"
        default: bindAddress.contains(":") ? "[\(bindAddress)]" : bindAddress
        }
    }

    /// The banner.
    /// - Parameters:
    ///   - configuration: The stack (its bound ports, its keys file, a key created at start).
    ///   - registry: The models, for example requests.
    ///   - daemonCount: How many daemons run.
    /// - Returns: Lines ending in a newline.
    static func text(configuration: StackConfiguration, registry: ModelRegistry, daemonCount: Int) -> String {
        let host = displayHost(configuration.bindAddress)
        let api = "http://\(host):\(configuration.port)"
        let chat = registry.models(of: .chat).first?.name
        let embedding = registry.models(of: .embedding).first?.name
        let auth = authorization(configuration)
        var out = "\ninfer is ready: \(daemonCount) daemons, models \(registry.names.joined(separator: ", "))\n\n"
        if let chat {
            out += "  curl -s \(api)/v1/chat/completions\(auth.header) -H 'Content-Type: application/json' \\\n"
                + "       -d '{\"model\": \"\(chat)\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello!\"}]}'\n"
            out += "  curl -sN \(api)/v1/chat/completions\(auth.header) -H 'Content-Type: application/json' \\\n"
                + "       -d '{\"model\": \"\(chat)\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story\"}]}'\n"
        }
        if let embedding {
            out += "  curl -s \(api)/v1/embeddings\(auth.header) -H 'Content-Type: application/json' \\\n"
                + "       -d '{\"model\": \"\(embedding)\", \"input\": \"hello world\"}'\n"
        }
        out += "  curl -s \(api)/v1/models\(auth.header)\n"
        out += "  curl -s http://\(host):\(configuration.metricsPort)/metrics\n"
        out += "\n" + auth.note + "\n"
        out += "Sockets in \(configuration.runtimeDirectory); inferctl status shows the daemons; Ctrl-C stops the stack.\n\n"
        return out
    }

    /// The Authorization header of the curl lines, and a note on where keys come from.
    static func authorization(_ configuration: StackConfiguration) -> (header: String, note: String) {
        let create = "inferctl keys create NAME --scopes infer,embed --file \(configuration.keysFile)"
        if configuration.authDisabled {
            return ("", "Authentication is OFF (AUTH_DISABLED=true): anyone who can reach the port can call every route.")
        }
        if let key = configuration.shownKey {
            return (" \\\n       -H 'Authorization: Bearer \(key)'",
                    "API key \"dev\" (every scope) was created in \(configuration.keysFile) and is shown only this once: "
                        + "keep it. More keys: \(create)")
        }
        return (" \\\n       -H \"Authorization: Bearer $INFER_API_KEY\"",
                "Set INFER_API_KEY to an API key of \(configuration.keysFile) (keys are shown only when created; "
                    + "a new one: \(create)).")
    }
}
