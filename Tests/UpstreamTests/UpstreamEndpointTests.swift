import Foundation
import Testing

@testable import Upstream

@Suite("UpstreamEndpoint: settings checked at start")
struct UpstreamEndpointTests {
    @Test(
        "a base URL that is not http(s) up to /v1 is refused, naming the problem",
        arguments: [
            ("ftp://host/v1", "must be http:// or https://"),
            ("host:8000/v1", "must be http:// or https://"),
            ("http:///v1", "has no host"),
            ("http://127.0.0.1:8000", "must end with /v1"),
            ("http://127.0.0.1:8000/v1/chat/completions", "must end with /v1"),
            ("https://user:secret@host/v1", "must not carry credentials"),
            ("http://host/v1?x=1", "must not have a query"),
        ])
    func refusesBadBaseURLs(url: String, expected: String) {
        #expect {
            _ = try UpstreamEndpoint(baseURL: url, model: "m")
        } throws: { error in
            let error = error as? UpstreamConfigurationError
            return error?.setting == "base URL" && error?.description.contains(expected) == true
        }
    }

    @Test("a good base URL is kept, lower-case scheme, without the trailing slash")
    func normalisesBaseURL() throws {
        let endpoint = try UpstreamEndpoint(baseURL: "HTTP://127.0.0.1:8000/v1/", model: "m")
        #expect(endpoint.baseURL.absoluteString == "http://127.0.0.1:8000/v1")
        #expect(endpoint.url(of: .chatCompletions).absoluteString == "http://127.0.0.1:8000/v1/chat/completions")
        let prefixed = try UpstreamEndpoint(baseURL: "https://gateway.example/openai/v1", model: "m")
        #expect(prefixed.url(of: .models).absoluteString == "https://gateway.example/openai/v1/models")
    }

    @Test("the API key never shows: not in description, interpolation, debugDescription or dump")
    func apiKeyIsRedacted() throws {
        let secret = "sk-very-secret-0123456789"
        let key = try UpstreamAPIKey(secret)
        let endpoint = try UpstreamEndpoint(baseURL: "http://127.0.0.1:1/v1", model: "m", apiKey: key)
        var dumped = ""
        dump(endpoint, to: &dumped)
        var dumpedKey = ""
        dump(key, to: &dumpedKey)
        for text in ["\(key)", String(describing: key), String(reflecting: key), endpoint.description,
                     String(reflecting: endpoint), dumped, dumpedKey] {
            #expect(!text.contains(secret), "\(text)")
        }
        #expect(endpoint.description.contains("<redacted>"))
    }

    @Test("an API key that cannot go in a header is refused", arguments: ["", "has space", "line\nbreak", "tab\t", "é"])
    func refusesBadKeys(secret: String) {
        #expect(throws: UpstreamConfigurationError.self) { _ = try UpstreamAPIKey(secret) }
    }

    @Test("timeouts, concurrency, model and CA file are checked")
    func checksOtherSettings() {
        #expect(throws: UpstreamConfigurationError.self) {
            _ = try UpstreamEndpoint(baseURL: "http://h/v1", model: "m", timeouts: UpstreamTimeouts(connect: .zero))
        }
        #expect(throws: UpstreamConfigurationError.self) {
            _ = try UpstreamEndpoint(baseURL: "http://h/v1", model: "m", maxConcurrentRequests: 0)
        }
        #expect(throws: UpstreamConfigurationError.self) {
            _ = try UpstreamEndpoint(baseURL: "http://h/v1", model: "")
        }
        #expect(throws: UpstreamConfigurationError.self) {
            _ = try UpstreamEndpoint(baseURL: "http://h/v1", model: "m", caFile: "/etc/ca.pem")  // CA file without https
        }
    }
}
