import Foundation

/// The bytes of one HTTP/1.1 request as an ``HTTP1Connection`` writes them.
enum HTTP1Request {
    /// The request line, `Host`, the given headers, `Content-Length` when there is a body, and the body.
    /// Header values come checked (``UpstreamRequestOptions`` drops unsafe ones; the rest are the
    /// client's own), so none can split the head.
    /// - Parameters:
    ///   - method: `GET`, `POST`, ...
    ///   - url: where the request goes; its path and query make the request target.
    ///   - host: the `Host` header (`127.0.0.1:8000`).
    ///   - headers: the other headers, in order.
    ///   - body: the body, if any.
    static func bytes(method: String, url: URL, host: String, headers: [(name: String, value: String)], body: Data?) -> [UInt8] {
        var head = method + " " + target(of: url) + " HTTP/1.1\r\nHost: " + host + "\r\n"
        for (name, value) in headers {
            head += name + ": " + value + "\r\n"
        }
        if let body {
            head += "Content-Length: \(body.count)\r\n"
        } else if method == "POST" || method == "PUT" || method == "PATCH" {
            head += "Content-Length: 0\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes.append(contentsOf: body) }
        return bytes
    }

    /// The origin-form target: the URL's path (as encoded) and its query; `/` for an empty path.
    static func target(of url: URL) -> String {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "/" }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        guard let query = components.percentEncodedQuery else { return path }
        return path + "?" + query
    }
}
