@testable import frontd
import HTTP
import IPC
import Settings
import Testing

@Suite("CORS policy (CORS_ORIGINS)")
struct CORSPolicyTests {
    @Test("valid CORS_ORIGINS values", arguments: [
        ("https://app.example.com", ["https://app.example.com"]),
        ("https://app.example.com, http://localhost:3000", ["https://app.example.com", "http://localhost:3000"]),
        ("HTTPS://App.Example.COM:443", ["https://app.example.com"]),
        ("http://example.com:80,http://example.com:8080", ["http://example.com", "http://example.com:8080"]),
        ("http://[::1]:8080", ["http://[::1]:8080"]),
        ("chrome-extension://abcdefgh", ["chrome-extension://abcdefgh"]),
    ])
    func validLists(_ text: String, _ origins: [String]) throws {
        let policy = try #require(CORSPolicy.parse(text))
        #expect(policy.origins == .list(Set(origins)))
    }

    @Test("CORS_ORIGINS values that are not origins", arguments: [
        "app.example.com", "https://app.example.com/", "https://app.example.com/path", "https://a.example?x=1",
        "https://user@a.example", "https://", "https://a.example:0", "https://a.example:99999", "https://a.example:port",
        "*,https://a.example", "ftp//a.example", "1http://a.example", "https://a b.example", "https://[::1", "null",
    ])
    func invalidItems(_ text: String) {
        #expect(CORSPolicy.parse(text) == nil)
    }

    @Test("a bad CORS_ORIGINS stops the daemon's settings with the variable's name")
    func settingError() throws {
        #expect(throws: ConfigError.self) { try FrontSettings.corsOrigins.parse("https://a.example/path") }
        do {
            _ = try FrontSettings.corsOrigins.parse("not an origin")
            Issue.record("accepted a value that is not an origin")
        } catch {
            #expect("\(error)".contains("CORS_ORIGINS"))
        }
        #expect(try FrontSettings.corsOrigins.parse("") == .off)
        #expect(try FrontSettings.corsOrigins.parse("*") == CORSPolicy(origins: .any))
    }

    @Test("off: no header, nothing allowed")
    func off() {
        #expect(CORSPolicy.off.responseHeaders(origin: "https://a.example").isEmpty)
        #expect(!CORSPolicy.off.allows("https://a.example"))
    }

    @Test("an explicit list: the origin echoed with credentials, Vary on every reply")
    func explicitList() throws {
        let policy = try #require(CORSPolicy.parse("https://app.example.com"))
        let allowed = policy.responseHeaders(origin: "https://app.example.com")
        #expect(allowed["Access-Control-Allow-Origin"] == "https://app.example.com")
        #expect(allowed["Access-Control-Allow-Credentials"] == "true")
        #expect(allowed["Vary"] == "Origin")
        #expect(allowed["Access-Control-Expose-Headers"] == "X-Request-ID, X-Cache, Retry-After")
        let other = policy.responseHeaders(origin: "https://evil.example")
        #expect(other["Access-Control-Allow-Origin"] == nil && other["Access-Control-Allow-Credentials"] == nil)
        #expect(other["Vary"] == "Origin")
        #expect(policy.responseHeaders(origin: nil)["Access-Control-Allow-Origin"] == nil)
        // Look-alikes are not the origin.
        for lookalike in ["https://app.example.com.evil.example", "http://app.example.com", "https://app.example.com:8443", "null"] {
            #expect(!policy.allows(lookalike), "\(lookalike)")
        }
        #expect(policy.allows("https://app.example.com:443"))
    }

    @Test("*: any origin, never with credentials")
    func wildcard() throws {
        let policy = try #require(CORSPolicy.parse("*"))
        let h = policy.responseHeaders(origin: "https://anything.example")
        #expect(h["Access-Control-Allow-Origin"] == "*")
        #expect(h["Access-Control-Allow-Credentials"] == nil)
        let pre = policy.preflightHeaders(origin: "https://anything.example", methods: [.post], requestedHeaders: nil)
        #expect(pre["Access-Control-Allow-Origin"] == "*" && pre["Access-Control-Allow-Credentials"] == nil)
    }

    @Test("preflight: the path's methods, allowed headers, max age")
    func preflight() throws {
        let policy = try #require(CORSPolicy.parse("https://app.example.com"))
        let h = policy.preflightHeaders(origin: "https://app.example.com", methods: [.get, .head], requestedHeaders: nil)
        #expect(h["Access-Control-Allow-Methods"] == "GET, HEAD")
        #expect(h["Access-Control-Allow-Headers"] == "Authorization, Content-Type, Idempotency-Key, X-Request-ID")
        #expect(h["Access-Control-Max-Age"] == "600")
        #expect(h["Access-Control-Allow-Credentials"] == "true")
    }

    @Test("requested headers are echoed when allowed, dropped when not")
    func requestedHeaders() {
        #expect(CORSPolicy.allowedHeaderList(requested: "content-type, authorization") == "content-type, authorization")
        #expect(CORSPolicy.allowedHeaderList(requested: "Content-Type, X-Stainless-OS, OpenAI-Project") == "Content-Type, X-Stainless-OS, OpenAI-Project")
        #expect(CORSPolicy.allowedHeaderList(requested: "content-type, x-evil") == "content-type")
        #expect(CORSPolicy.allowedHeaderList(requested: "") == "Authorization, Content-Type, Idempotency-Key, X-Request-ID")
    }
}
