import Foundation
import Testing
import TestKit

@testable import Upstream

/// The environment variables that turn ``UpstreamTLSChildTests`` on, in the child process only.
private enum ChildEnvironment {
    static let baseURL = "UPSTREAM_TLS_CHILD_BASE_URL"
    static let caFile = "UPSTREAM_TLS_CHILD_CA_FILE"
    static let marker = "UPSTREAM_TLS_CHILD_MARKER"
}

@Suite("UpstreamClient over https: certificates are checked; a CA must be in the trust store")
struct UpstreamTLSTests {
    @Test("an upstream whose certificate no trusted CA signed fails as a TLS error, not retryable",
          .enabled(if: TLSFixture.available, "needs the openssl command (apt-get install -y openssl)"))
    func untrustedCertificate() async throws {
        let tls = try await TLSFixture.make()
        defer { tls.remove() }
        let server = try await ScriptedUpstream.start(["--tls-cert", tls.certificateFile, "--tls-key", tls.keyFile])
        let endpoint = try UpstreamEndpoint(baseURL: "https://127.0.0.1:\(server.port)/v1", model: "m")
        let client = try UpstreamClient(endpoint: endpoint)
        let error = try #require(await expectUpstreamError { try await client.chatCompletion(try chatBody()) })
        #expect(error.kind == .tls, "\(error)")
        #expect(!error.isRetryable)
        #expect(error.clientStatus == 502)
        #expect(!error.logMessage.contains("127.0.0.1") && !error.logMessage.contains("\(server.port)"), "\(error.logMessage)")
    }

    @Test("naming a CA file the trust store lacks stops the client at start, saying how to add it",
          .enabled(if: TLSFixture.available, "needs the openssl command (apt-get install -y openssl)"))
    func caFileNotTrusted() async throws {
        let tls = try await TLSFixture.make()
        defer { tls.remove() }
        let endpoint = try UpstreamEndpoint(baseURL: "https://127.0.0.1:1/v1", model: "m", caFile: tls.caFile)
        #expect {
            _ = try UpstreamClient(endpoint: endpoint)
        } throws: { error in
            let error = error as? UpstreamConfigurationError
            return error?.setting == "CA file" && error?.reason.contains("update-ca-certificates") == true
                && error?.reason.contains("BindReadOnlyPaths") == true
        }
    }

    @Test("the trust-store check: a bundle holding the CA passes; a missing or empty CA file is refused",
          .enabled(if: TLSFixture.available, "needs the openssl command (apt-get install -y openssl)"))
    func trustStoreCheck() async throws {
        let tls = try await TLSFixture.make()
        defer { tls.remove() }
        let bundle = tls.directory + "/bundle.pem"
        let ca = try String(contentsOfFile: tls.caFile, encoding: .utf8)
        let server = try String(contentsOfFile: tls.certificateFile, encoding: .utf8)
        // Re-wrapped lines must not matter: the comparison is on the certificate's bytes.
        let rewrapped = ca.replacingOccurrences(of: "\n", with: "\r\n")
        try (server + rewrapped).write(toFile: bundle, atomically: true, encoding: .utf8)
        let store = UpstreamTrustStore(bundlePath: bundle)
        try store.check(caFile: tls.caFile)
        #expect(throws: UpstreamConfigurationError.self) { try store.check(caFile: tls.directory + "/absent.pem") }
        try "no certificate here".write(toFile: tls.directory + "/empty.pem", atomically: true, encoding: .utf8)
        #expect(throws: UpstreamConfigurationError.self) { try store.check(caFile: tls.directory + "/empty.pem") }
        #expect(throws: UpstreamConfigurationError.self) {
            try UpstreamTrustStore(bundlePath: tls.directory + "/absent-bundle.pem").check(caFile: tls.caFile)
        }
    }

    @Test("with the CA in the trust store (a private mount namespace adds it) the named CA file works",
          .enabled(if: TLSFixture.available, "needs the openssl command (apt-get install -y openssl)"),
          .enabled(if: MountNamespace.available, "needs root and unshare to add the CA in a private mount namespace"),
          .enabled(if: ProcessInfo.processInfo.environment[ChildEnvironment.baseURL] == nil, "this is the child run"))
    func trustedThroughTheStore() async throws {
        let tls = try await TLSFixture.make()
        defer { tls.remove() }
        let server = try await ScriptedUpstream.start(["--tls-cert", tls.certificateFile, "--tls-key", tls.keyFile])
        let systemBundle = UpstreamTrustStore.system.bundlePath
        let bundle = try tls.bundle(addingTo: systemBundle)
        let marker = tls.directory + "/child-passed"
        // This test binary again, running only the child test, in a mount namespace where the bundle
        // with the CA stands over the system's: what `BindReadOnlyPaths=` does for a systemd service.
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var environment = ProcessInfo.processInfo.environment
        environment[ChildEnvironment.baseURL] = "https://127.0.0.1:\(server.port)/v1"
        environment[ChildEnvironment.caFile] = tls.caFile
        environment[ChildEnvironment.marker] = marker
        let command = MountNamespace.binding(bundle, over: systemBundle)
            + [testBinary, "--testing-library", "swift-testing", "--filter", "UpstreamTLSChildTests"]
        let (status, output) = try await runProgram(command[0], Array(command.dropFirst()), environment: environment)
        #expect(status == 0, "child run failed:\n\(output)")
        #expect(FileManager.default.fileExists(atPath: marker), "the child test did not run:\n\(output)")
    }
}

/// Runs only as the child of ``UpstreamTLSTests/trustedThroughTheStore()``, where the CA is trusted.
@Suite("UpstreamClient over https, child run")
struct UpstreamTLSChildTests {
    @Test("the request succeeds over https with the CA file named",
          .enabled(if: ProcessInfo.processInfo.environment[ChildEnvironment.baseURL] != nil, "runs only as a child of the https test"))
    func succeeds() async throws {
        let environment = ProcessInfo.processInfo.environment
        let baseURL = try #require(environment[ChildEnvironment.baseURL])
        let caFile = try #require(environment[ChildEnvironment.caFile])
        let marker = try #require(environment[ChildEnvironment.marker])
        let endpoint = try UpstreamEndpoint(baseURL: baseURL, model: "m", caFile: caFile)
        let client = try UpstreamClient(endpoint: endpoint)
        let response = try await client.chatCompletion(try chatBody())
        #expect(response.status == 200)
        #expect(response.usage != nil)
        let stream = try await client.streamChatCompletion(try chatBody(["behaviour": "ok", "chunks": 2], stream: true))
        var events = 0
        for try await _ in stream { events += 1 }
        #expect(events >= 2)
        try "passed".write(toFile: marker, atomically: true, encoding: .utf8)
    }
}
