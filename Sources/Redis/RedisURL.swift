import Basics
import Crypto
import Glibc

/// Where a Redis server is and how to log in to it, parsed from a `REDIS_URL`.
///
/// Forms accepted:
/// - `redis://[[user]:password@]host[:port][/db]`: TCP; port 6379 by default, database 0 by default;
///   `host` is a name, an IPv4 address or a bracketed IPv6 address (`[::1]`).
/// - `unix://[[user]:password@]/path/to/redis.sock[?db=N]`: a Unix domain socket (absolute path).
///
/// User and password are percent-decoded (write `@` as `%40`, `:` as `%3A`, `/` as `%2F`). A password
/// alone (`:secret@`) logs in with `AUTH secret`; a user and password with `AUTH user secret`. A user
/// without a password is an error, since Redis has no such login. `rediss://` is refused: this client
/// speaks no TLS.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    /// The server's address.
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// A TCP server.
        case tcp(host: String, port: Int)
        /// A Unix domain socket.
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): path
            }
        }
    }

    /// The forms a `REDIS_URL` takes, for a setting's "accepted values" (limitd and cached say the same).
    public static let forms = "redis://[[user]:password@]host[:port][/db] or unix://[[user]:password@]/path/to/redis.sock[?db=N]"

    /// Redis's standard port.
    public static let defaultPort = 6379
    /// Longest Unix socket path the kernel accepts (`sun_path` less its terminating NUL).
    public static let maxSocketPathLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// Where to connect.
    public var endpoint: Endpoint
    /// The ACL user, or `nil` for the default user.
    public var username: String?
    /// The password, or `nil` to send no AUTH.
    public var password: String?
    /// The database to SELECT after connecting (0 sends no SELECT).
    public var database: Int

    /// A URL from its parts.
    /// - Parameters:
    ///   - endpoint: Where to connect.
    ///   - username: The ACL user; needs a password.
    ///   - password: The password, or `nil` for none.
    ///   - database: The database number.
    public init(endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a `redis://` or `unix://` URL.
    /// - Parameter text: The URL, for example the value of `REDIS_URL`.
    /// - Throws: ``RedisURLError`` naming the part that is wrong.
    public init(parsing text: String) throws(RedisURLError) {
        guard !text.isEmpty else { throw RedisURLError(.empty, "the URL is empty") }
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw RedisURLError(
                .scheme, "'\(Self.redacted(text))' has no scheme; expected redis://host[:port][/db] or unix:///path/to/redis.sock")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(text[schemeEnd.upperBound...])
        if let hash = rest.firstIndex(of: "#") {
            throw RedisURLError(.query, "a fragment ('\(rest[hash...])') is not allowed")
        }
        var query: Substring?
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        // The authority ends at the first "/" after the last "@" (a raw "/" in a password must be %2F).
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        if path.contains("@") {
            throw RedisURLError(.userInfo, "a '/' in the user or password must be written %2F")
        }
        var credentials: (username: String?, password: String?) = (nil, nil)
        if let at = authority.lastIndex(of: "@") {
            credentials = try Self.parseUserInfo(authority[..<at])
            authority = authority[authority.index(after: at)...]
        }

        switch scheme {
        case "redis":
            let (host, port) = try Self.parseHostAndPort(authority)
            let database = try Self.parseDatabasePath(path)
            if let query, !query.isEmpty {
                let name = query.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                throw RedisURLError(
                    .query, "query parameter '\(name)' is not supported in a redis:// URL (give the database as /N)")
            }
            self.init(endpoint: .tcp(host: host, port: port), database: database)
        case "unix":
            guard authority.isEmpty else {
                throw RedisURLError(
                    .host, "a unix:// URL takes no host ('\(authority)'); write unix:///path/to/redis.sock")
            }
            let socketPath = try Self.parseSocketPath(path)
            let database = try Self.parseUnixQuery(query)
            self.init(endpoint: .unix(path: socketPath), database: database)
        case "rediss":
            throw RedisURLError(
                .tlsUnsupported,
                "rediss:// (Redis over TLS) is not supported: this client has no TLS; use redis:// to a server on a trusted network or loopback, or a unix:// socket")
        default:
            throw RedisURLError(.scheme, "unsupported scheme '\(scheme)://'; expected redis:// or unix://")
        }
        username = credentials.username
        password = credentials.password
    }

    /// The URL with the password replaced by `***`, safe to log.
    public var description: String {
        var auth = ""
        if let password {
            auth = "\(username.map(Self.percentEncode) ?? ""):\(password.isEmpty ? "" : "***")@"
        }
        switch endpoint {
        case .tcp:
            return "redis://\(auth)\(endpoint)\(database == 0 ? "" : "/\(database)")"
        case .unix(let path):
            return "unix://\(auth)\(path)\(database == 0 ? "" : "?db=\(database)")"
        }
    }

    // MARK: - Parts

    private static func parseUserInfo(_ userInfo: Substring) throws(RedisURLError) -> (String?, String?) {
        guard let colon = userInfo.firstIndex(of: ":") else {
            // Not echoed: some clients read "redis://secret@host" as a password alone.
            throw RedisURLError(
                .userInfo,
                "the part before '@' has no ':'; write :password@ for a password alone, or user:password@")
        }
        let user = try percentDecode(userInfo[..<colon], part: "user")
        let password = try percentDecode(userInfo[userInfo.index(after: colon)...], part: "password")
        return (user.isEmpty ? nil : user, password)
    }

    private static func parseHostAndPort(_ authority: Substring) throws(RedisURLError) -> (String, Int) {
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw RedisURLError(.host, "IPv6 host '\(authority)' has no closing ']'")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let afterClose = authority[authority.index(after: close)...]
            if !afterClose.isEmpty {
                guard afterClose.hasPrefix(":") else {
                    throw RedisURLError(.host, "unexpected '\(afterClose)' after the IPv6 host [\(host)]")
                }
                portText = afterClose.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw RedisURLError(.host, "'[\(host)]' is not an IPv6 address")
            }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
            guard !host.isEmpty else {
                throw RedisURLError(.host, "the host is missing; expected redis://host[:port][/db]")
            }
            if let bad = host.first(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0))) }) {
                throw RedisURLError(.host, "host '\(host)' contains '\(bad)', which a host name cannot")
            }
        }
        guard let portText else { return (String(host), defaultPort) }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCIIDigit), let port = Int(portText),
            (1...65535).contains(port)
        else {
            throw RedisURLError(.port, "port '\(portText)' is not a number from 1 to 65535")
        }
        return (String(host), port)
    }

    private static func parseDatabasePath(_ path: Substring) throws(RedisURLError) -> Int {
        guard path.count > 1 else { return 0 }  // "" or "/"
        return try parseDatabase(path.dropFirst(), context: "path '\(path)'")
    }

    private static func parseDatabase(_ text: Substring, context: String) throws(RedisURLError) -> Int {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy(\.isASCIIDigit), let number = Int(text) else {
            throw RedisURLError(.database, "database '\(text)' in the \(context) is not a non-negative integer")
        }
        return number
    }

    private static func parseSocketPath(_ rawPath: Substring) throws(RedisURLError) -> String {
        guard rawPath.hasPrefix("/") else {
            throw RedisURLError(.socketPath, "the socket path is missing; write unix:///path/to/redis.sock")
        }
        let path = try percentDecode(rawPath, part: "socket path")
        guard path != "/", !path.hasSuffix("/") else {
            throw RedisURLError(.socketPath, "socket path '\(path)' names a directory, not a socket")
        }
        guard path.utf8.count <= maxSocketPathLength else {
            throw RedisURLError(
                .socketPath, "socket path is \(path.utf8.count) bytes long; the kernel allows at most \(maxSocketPathLength)")
        }
        return path
    }

    private static func parseUnixQuery(_ query: Substring?) throws(RedisURLError) -> Int {
        guard let query, !query.isEmpty else { return 0 }
        var database: Int?
        for parameter in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = pair[0]
            let value = pair.count > 1 ? pair[1] : ""
            switch name {
            case "db":
                guard database == nil else {
                    throw RedisURLError(.database, "query parameter 'db' is given twice")
                }
                database = try parseDatabase(value, context: "query parameter 'db'")
            default:
                throw RedisURLError(
                    .query,
                    "query parameter '\(name)' is not supported in a unix:// URL (only db=N; give a password as unix://:password@/path)")
            }
        }
        return database ?? 0
    }

    private static func percentDecode(_ text: Substring, part: String) throws(RedisURLError) -> String {
        let kind: ErrorCode<RedisURLError> = part == "socket path" ? .socketPath : .userInfo
        switch PercentDecoding.string(text) {
        case .success(let decoded): return decoded
        case .failure(.badEscape): throw RedisURLError(kind, "the \(part) has a '%' not followed by two hex digits")
        case .failure(.notUTF8): throw RedisURLError(kind, "the decoded \(part) is not UTF-8")
        }
    }

    private static func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            let scalar = UnicodeScalar(byte)
            if byte < 0x80, Character(scalar).isLetter || Character(scalar).isNumber || "-._~".unicodeScalars.contains(scalar) {
                result.unicodeScalars.append(scalar)
            } else {
                result += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return result
    }

    /// The text with anything between "://" and "@" hidden, for error messages.
    private static func redacted(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        let start = text.firstRange(of: "://")?.upperBound ?? text.startIndex
        return start <= at ? String(text[..<start]) + "***" + String(text[at...]) : text
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
