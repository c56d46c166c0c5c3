import Foundation

/// Removes what must not reach a client or a log from a text: the API key, the upstream's URL, host
/// and address, its model name, any other URL or IP address, and control characters; and bounds its
/// length.
struct Redactor: Sendable {
    /// The longest text kept; longer is cut with `…`.
    static let maximumLength = 300

    /// Exact strings to hide, longest first (so `host:port` goes before `host`), with their stand-ins.
    private let secrets: [(text: String, replacement: String)]

    init(endpoint: UpstreamEndpoint) {
        var secrets: [(String, String)] = []
        if let key = endpoint.apiKey?.secret { secrets.append((key, "<redacted>")) }
        let base = endpoint.baseURL
        secrets.append((base.absoluteString, "<upstream>"))
        if let host = base.host, !host.isEmpty {
            let port = base.port ?? (base.scheme == "https" ? 443 : 80)
            secrets.append(("\(host):\(port)", "<upstream>"))
            secrets.append(("\(host) port \(port)", "<upstream>"))  // how libcurl names a peer
            secrets.append((host, "<upstream>"))
        }
        // The upstream's own model name may be an internal path (`/mnt/models/…`); short names are
        // left alone, as they could match ordinary words.
        if endpoint.model.count >= 6 { secrets.append((endpoint.model, "<model>")) }
        self.secrets = secrets.sorted { $0.0.count > $1.0.count }
    }

    /// `text` with secrets, URLs and addresses replaced, control characters turned to spaces,
    /// whitespace runs collapsed, and cut to ``maximumLength`` characters.
    func redact(_ text: String) -> String {
        var result = text
        // URLs first (whole, so no piece of one survives), then the known secrets, then bare addresses.
        result = Self.replace(Self.url, in: result, with: "<url>")
        for (secret, replacement) in secrets where !secret.isEmpty {
            result = result.replacingOccurrences(of: secret, with: replacement)
        }
        for pattern in Self.addresses {
            result = Self.replace(pattern, in: result, with: "<address>")
        }
        let cleaned = String(
            String.UnicodeScalarView(
                result.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
        let collapsed = cleaned.split(whereSeparator: { $0 == " " }).joined(separator: " ")
        guard collapsed.count > Self.maximumLength else { return collapsed }
        return String(collapsed.prefix(Self.maximumLength)) + "…"
    }

    private static func replace(_ pattern: NSRegularExpression?, in text: String, with replacement: String) -> String {
        guard let pattern else { return text }
        return pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: replacement)
    }

    /// Any URL.
    private static let url = try? NSRegularExpression(pattern: #"[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+"#)

    /// Any IPv4 address (with its port), any bracketed IPv6 address.
    private static let addresses = [#"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"#, #"\[[0-9A-Fa-f:.]+\](?::\d+)?"#]
        .compactMap { try? NSRegularExpression(pattern: $0) }
}
