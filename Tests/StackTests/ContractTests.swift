import Foundation
import Testing
import TestKit

// Nested in PipelineTests (a serialized suite) so that no two real stacks run at once on the test
// machine's two cores: the pipeline's restart deadlines are timed.
extension PipelineTests {
    /// docs/openapi.yaml checked against the real daemons by schemathesis: every response's status,
    /// content type, headers and body must be the documented ones, every request the spec allows must be
    /// accepted and every request it forbids refused with a 4xx.
    @Suite("the API against docs/openapi.yaml (schemathesis)")
    struct ContractTests {
        /// Every path of docs/openapi.yaml (one operation each); the run must select them all.
        static let servedPaths = ["/", "/health", "/health/live", "/ready", "/health/ready", "/metrics", "/v1/infer", "/v1/infer/stream",
                                  "/v1/batch", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                                  "/v1/metrics/summary", "/v1/metrics/cache", "/v1/metrics/cost", "/v1/usage", "/v1/cache/stats", "/v1/cache",
                                  "/webhooks/ingest", "/v1/jobs/{id}"]
        /// Header parameters of the spec left out of the tested copy (none).
        static let unreadParameters: [String] = []
        /// MAX_TOKENS_LIMIT of the tested stack, so no generated request runs the model for long.
        static let maxTokens = 16
        /// Test cases per operation and phase; the whole run takes about a minute on 2 cores.
        static let examplesPerOperation = 25
        /// The most the schemathesis run may take before the test gives up on it.
        static let budget: Duration = .seconds(300)

        static let checks = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
                             "response_schema_conformance", "negative_data_rejection", "positive_data_acceptance",
                             "unsupported_method", "allow_header_conformance"]
        /// Checks that need API keys enforced: an operation that needs a key must refuse a request without one.
        static let authChecks = ["ignored_auth", "missing_required_header"]

        @Test("docs/openapi.yaml is valid OpenAPI 3.1 and frontd answers as it says")
        func schemathesisFindsNoDifference() throws {
            let tools = try PythonTestTools()
            let work = try TemporaryDirectory()
            let run = try StackRun(
                models: [("smollm2", "chat"), ("minilm", "embedding")],
                environmentFile: ["RATE_LIMIT_RPM=1000000", "MAX_TOKENS_LIMIT=\(Self.maxTokens)",
                                  // Webhooks answer 503 without a secret; with one, unsigned requests get the documented 401.
                                  "WEBHOOK_HMAC_SECRET=contract-test-secret-0123456789"],
                realDaemons: true, apiKeys: [HarnessKey(name: "contract", scopes: "infer,embed,admin")])
            #expect(run.wait(.seconds(90)) { run.isReady }, "stack not ready: \(run.standardError.suffix(2000))")
            let port = try #require(run.port("http"))

            // The spec is valid (OpenAPI 3.1 meta-schema, and schemathesis loads it); the tested copy states
            // this stack's MAX_TOKENS_LIMIT.
            let spec = work.path + "/openapi.json"
            let prepare = try tools.run(
                tools.python,
                [tools.script("contract_spec.py"), tools.openAPISpec, spec, "--max-tokens", String(Self.maxTokens)]
                    + Self.unreadParameters.flatMap { ["--drop-parameter", $0] },
                in: work.path, timeout: .seconds(60))
            try #require(prepare.succeeded, "docs/openapi.yaml is not valid:\n\(prepare.output)")

            let pathPattern = "^(" + Self.servedPaths.map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|") + ")$"
            let seed = ProcessInfo.processInfo.environment["SCHEMATHESIS_SEED"] ?? "20261123"
            let arguments = [
                "run", spec, "--url", "http://127.0.0.1:\(port)",
                "--header", "Authorization: Bearer \(try run.key("contract"))",
                "--checks", (Self.checks + Self.authChecks).joined(separator: ","),
                "--include-path-regex", pathPattern,
                "--max-examples", String(Self.examplesPerOperation), "--seed", seed,
                "--request-timeout", "60", "--generation-database", "none", "--no-color",
            ]
            print("schemathesis \(arguments.joined(separator: " "))")
            let result = try tools.run(tools.schemathesis, arguments, in: work.path, timeout: Self.budget)
            // Schemathesis' report, failures and their curl reproductions included, in the test's output.
            print(result.output)
            #expect(!result.timedOut, "schemathesis did not finish within \(Self.budget)")
            #expect(result.exitCode == 0, "schemathesis found differences between frontd and docs/openapi.yaml (its report is above; seed \(seed))")
            // One operation per served path.
            #expect(result.output.contains("\(Self.servedPaths.count) selected"), "not every served operation was tested")
            #expect(run.stop() == 0)
        }
    }
}
