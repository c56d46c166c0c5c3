import Foundation
import Glibc
import HTTP
import IPC
import Testing
import TestKit

@testable import frontd
import APIKeys
import Crypto
import DaemonRuntime

/// frontd's authentication: the `Authorization` header against a real keys file, by route access.
@Suite("frontd authenticator")
struct AuthenticatorTests {
    /// A keys file in a fresh directory holding `keys`, and a key ring reading it (no wait between looks).
    final class Fixture {
        let directory: TemporaryDirectory
        let path: String
        let ring: KeyRing
        let capture = LogCapture()

        init(_ keys: [APIKeyEntry]) throws {
            directory = try TemporaryDirectory()
            path = directory.file("keys.json")
            try APIKeyFile(keys: keys).write(to: path)
            ring = KeyRing(path: path, logger: Logger(daemon: "frontd", output: capture.output), checkInterval: .zero)
        }

        var log: String { capture.text }
    }

    static let writerKey = "sk-infer-writer-0123456789abcdefghijklmnopqrstuvwxyz"
    static let embedKey = "sk-infer-embed-0123456789abcdefghijklmnopqrstuvwxyzA"
    static let bareKey = "sk-infer-bare-0123456789abcdefghijklmnopqrstuvwxyzAB"

    static let keys = [
        APIKeyEntry(name: "writer", id: "key_w", digest: SHA256.hash(Array(writerKey.utf8)), scopes: [.infer], requestsPerMinute: 30),
        APIKeyEntry(name: "embedder", id: "key_e", digest: SHA256.hash(Array(embedKey.utf8)), scopes: [.embed]),
        APIKeyEntry(name: "bare", id: "key_b", digest: SHA256.hash(Array(bareKey.utf8)), scopes: []),
    ]

    static func request(_ authorization: String?...) -> HTTPRequest {
        var headers = HTTPHeaders()
        for value in authorization.compactMap({ $0 }) { headers.add(name: "Authorization", value: value) }
        return HTTPRequest(method: .post, path: "/v1/chat/completions", headers: headers, remoteAddress: "10.0.0.1")
    }

    /// The API error `authenticate` throws, or nil when it returns.
    static func refusal(_ authenticator: Authenticator, _ request: HTTPRequest, _ access: Access) -> APIError? {
        do {
            _ = try authenticator.authenticate(request, access: access)
            return nil
        } catch let error as APIError {
            return error
        } catch {
            Issue.record("not an APIError: \(error)")
            return nil
        }
    }

    @Test("A valid key gives its principal: name, id (limitd's key), scopes, its own rate")
    func validKey() throws {
        let fixture = try Fixture(Self.keys)
        let authenticator = Authenticator(keyRing: fixture.ring)
        let principal = try authenticator.authenticate(Self.request("Bearer \(Self.writerKey)"), access: .scope(.infer))
        #expect(principal == Principal(name: "writer", id: "key_w", scopes: [.infer], requestsPerMinute: 30, limits: .init(requestsPerMinute: 30)))
        // The scheme is case-insensitive (RFC 7235); spaces before the key are skipped.
        #expect(try authenticator.authenticate(Self.request("bearer  \(Self.writerKey)"), access: .anyKey)?.id == "key_w")
        #expect(try authenticator.authenticate(Self.request("Bearer \(Self.bareKey)"), access: .anyKey)?.name == "bare")
    }

    @Test("401 with WWW-Authenticate: missing header, wrong key, a key differing only in its last byte, changeme, Basic, empty, two headers")
    func unauthorized() throws {
        let fixture = try Fixture(Self.keys)
        let authenticator = Authenticator(keyRing: fixture.ring)
        let lastByte = String(Self.writerKey.dropLast()) + "Z"
        #expect(lastByte.utf8.count == Self.writerKey.utf8.count && lastByte != Self.writerKey)
        let cases: [(HTTPRequest, String)] = [
            (Self.request(nil), "missing API key"),
            (Self.request("Bearer sk-infer-wrong"), "invalid API key"),
            (Self.request("Bearer \(lastByte)"), "invalid API key"),
            (Self.request("Bearer changeme"), "changeme"),
            (Self.request("Basic " + Data("user:\(Self.writerKey)".utf8).base64EncodedString()), "expected Authorization: Bearer"),
            (Self.request("Bearer"), "expected Authorization: Bearer"),
            (Self.request("Bearer "), "expected Authorization: Bearer"),
            (Self.request(Self.writerKey), "expected Authorization: Bearer"),
            (Self.request("Bearer \(Self.writerKey) extra"), "invalid API key"),
            (Self.request("Bearer " + String(repeating: "a", count: 5000)), "invalid API key"),
            (Self.request("Bearer \(Self.writerKey)", "Bearer \(Self.writerKey)"), "more than one"),
        ]
        for (request, message) in cases {
            for access in [Access.anyKey, .scope(.infer)] {
                let error = try #require(Self.refusal(authenticator, request, access), "accepted \(request.headers)")
                #expect(error.status.code == 401)
                #expect(error.type == "authentication_error" && error.code == "invalid_api_key")
                #expect(error.headers["WWW-Authenticate"] == "Bearer")
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }

    @Test("changeme is refused even when its hash is in the list of keys")
    func changemeNeverAccepted() {
        let planted = [APIKeyEntry(name: "legacy", id: "key_l", digest: APIKeySecret.defaultTokenDigest, scopes: Set(Scope.allCases))]
        // The file reader refuses such a file; the matcher refuses it too if one got through.
        #expect(Authenticator.match(Array("changeme".utf8), in: planted) == nil)
        #expect(throws: APIKeyFileError.self) { try APIKeyFile(keys: planted).validate(file: "/k.json") }
        #expect(Authenticator.match(Array(Self.writerKey.utf8), in: Self.keys)?.name == "writer")
    }

    @Test("403 naming the scope when the key lacks it; open and signed routes need no key; any key suffices for .anyKey")
    func scopes() throws {
        let fixture = try Fixture(Self.keys)
        let authenticator = Authenticator(keyRing: fixture.ring)
        let forbidden = try #require(Self.refusal(authenticator, Self.request("Bearer \(Self.embedKey)"), .scope(.infer)))
        #expect(forbidden.status.code == 403 && forbidden.code == "insufficient_scope")
        #expect(forbidden.message.contains("\"infer\""))
        #expect(forbidden.headers["WWW-Authenticate"] == nil)
        #expect(Self.refusal(authenticator, Self.request("Bearer \(Self.writerKey)"), .scope(.admin))?.message.contains("\"admin\"") == true)
        #expect(Self.refusal(authenticator, Self.request("Bearer \(Self.bareKey)"), .scope(.embed))?.status.code == 403)
        #expect(try authenticator.authenticate(Self.request("Bearer \(Self.embedKey)"), access: .scope(.embed))?.name == "embedder")
        // Open and signed routes: no principal, whatever the header says.
        #expect(try authenticator.authenticate(Self.request(nil), access: .open) == nil)
        #expect(try authenticator.authenticate(Self.request("Bearer wrong"), access: .open) == nil)
        #expect(try authenticator.authenticate(Self.request(nil), access: .signed) == nil)
    }

    @Test("With authentication off every route is open and the caller is limited by address")
    func disabled() throws {
        let authenticator = Authenticator(keyRing: nil)
        #expect(try authenticator.authenticate(Self.request(nil), access: .scope(.admin)) == nil)
        #expect(try authenticator.authenticate(Self.request("Bearer anything"), access: .anyKey) == nil)
    }

    @Test("The key ring follows the file: a key added or revoked takes effect; a missing or broken file means no keys (logged), until fixed")
    func followsTheFile() throws {
        let fixture = try Fixture([Self.keys[0]])
        let authenticator = Authenticator(keyRing: fixture.ring)
        #expect(fixture.log.contains("API keys loaded"))
        #expect(Self.refusal(authenticator, Self.request("Bearer \(Self.embedKey)"), .anyKey)?.status.code == 401)

        try APIKeyFile(keys: Self.keys).write(to: fixture.path)
        #expect(try authenticator.authenticate(Self.request("Bearer \(Self.embedKey)"), access: .anyKey)?.name == "embedder")

        // Broken by hand: fail closed, no key at all, logged with the file's error.
        try Data("{\"keys\": [".utf8).write(to: URL(fileURLWithPath: fixture.path))
        #expect(Self.refusal(authenticator, Self.request("Bearer \(Self.writerKey)"), .anyKey)?.status.code == 401)
        #expect(fixture.ring.problem?.contains("\(fixture.path): not valid JSON") == true)
        #expect(fixture.log.contains("not valid JSON") && fixture.log.contains("answers 401"))

        // Gone: still no key; back: accepted again.
        #expect(unlink(fixture.path) == 0)
        #expect(Self.refusal(authenticator, Self.request("Bearer \(Self.writerKey)"), .anyKey)?.status.code == 401)
        #expect(fixture.ring.problem?.contains("No such file or directory") == true)
        try APIKeyFile(keys: [Self.keys[1]]).write(to: fixture.path)
        #expect(try authenticator.authenticate(Self.request("Bearer \(Self.embedKey)"), access: .anyKey)?.name == "embedder")
        #expect(Self.refusal(authenticator, Self.request("Bearer \(Self.writerKey)"), .anyKey)?.status.code == 401, "revoked")
        #expect(fixture.ring.problem == nil)
        #expect(fixture.log.contains("API keys file readable again"))
        // Keys are never logged.
        #expect(!fixture.log.contains(Self.writerKey) && !fixture.log.contains("sk-infer"))
    }

    @Test("frontd started on a missing keys file starts, logs the file, and refuses keys until the file appears")
    func startsWithoutFile() throws {
        let fixture = try Fixture([])
        #expect(unlink(fixture.path) == 0)
        let capture = LogCapture()
        let ring = KeyRing(path: fixture.path, logger: Logger(daemon: "frontd", output: capture.output), checkInterval: .zero)
        #expect(ring.keys().isEmpty)
        #expect(capture.text.contains("cannot read the API keys file \(fixture.path)"))
        try APIKeyFile(keys: Self.keys).write(to: fixture.path)
        #expect(ring.keys().count == 3)
    }
}
