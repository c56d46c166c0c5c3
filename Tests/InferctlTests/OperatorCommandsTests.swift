import Foundation
import Testing
import TestKit

/// `inferctl status`, `health`, `metrics`, `version`, `config check` and `completion` against a real stack
/// and real configuration files.
@Suite("inferctl's operator commands on a real stack")
struct OperatorCommandsTests {
    @Test("health, metrics, version and status answer from the running stack; health says 3 once it is gone")
    func againstAStack() throws {
        let stack = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], environmentFile: ["RATE_LIMIT_RPM=1000000"],
                                 realDaemons: true)
        var stopped = false
        defer { if !stopped { _ = stack.stop() } }
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "not ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http")), metricsPort = try #require(stack.port("metrics-http"))
        let url = "http://127.0.0.1:\(port)/v1", metricsURL = "http://127.0.0.1:\(metricsPort)/metrics"
        let key = try stack.key("unlimited")
        for _ in 0..<2 {  // the second is a cache hit
            _ = curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json", "-d",
                      #"{"model":"smollm2","messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"temperature":0}"#,
                      "http://127.0.0.1:\(port)/v1/chat/completions"], timeout: 60)
        }

        let health = try runInferctl(["health", "--url", url])
        #expect(health.status == 0, "\(health.stdout)\(health.stderr)")
        #expect(health.stdout.contains("http://127.0.0.1:\(port): ready (HTTP 200)"))
        #expect(health.stdout.contains("smollm2/smollm2   closed"), "\(health.stdout)")
        let healthJSON = try runInferctl(["health", "--url", url, "--json"])
        let dependencies = ((try? JSONSerialization.jsonObject(with: Data(healthJSON.stdout.utf8))) as? [String: Any])?["dependencies"] as? [String: String]
        #expect(dependencies?["limitd"] == "up" && dependencies?["cached"] == "up" && dependencies?["batchd"] == "up")

        let metrics = try runInferctl(["metrics", "--metrics-url", metricsURL, "--json"])
        #expect(metrics.status == 0, "\(metrics.stderr)")
        let figures = (try? JSONSerialization.jsonObject(with: Data(metrics.stdout.utf8))) as? [String: Any] ?? [:]
        let exposition = curl([metricsURL]).body
        #expect(exposition.contains("infer_http_requests_total"), "\(exposition.prefix(500))")
        func sum(_ name: String, _ match: String = "") -> Double {
            exposition.split(separator: "\n").filter { ($0.hasPrefix(name + "{") || $0.hasPrefix(name + " ")) && (match.isEmpty || $0.contains(match)) }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }
        #expect((figures["requests"] as? [String: Double])?["total"] == sum("infer_http_requests_total"))
        #expect((figures["cache"] as? [String: Any])?["hits"] as? Double == 1 && (figures["cache"] as? [String: Any])?["misses"] as? Double == 1)
        #expect((figures["tokens"] as? [String: Double])?["generated"] == sum("infer_modeld_generated_tokens_total"))
        #expect((figures["daemons"] as? [String: Bool])?.count == 7 && (figures["daemons"] as? [String: Bool])?.values.allSatisfy { $0 } == true)
        let readable = try runInferctl(["metrics", "--metrics-url", metricsURL])
        #expect(readable.stdout.contains("cache:     1 hits, 1 misses"), "\(readable.stdout)")
        #expect(readable.stdout.contains("first token: p50 "))

        let version = try runInferctl(["version", "--url", url])
        #expect(version.stdout.contains("inferctl 0.2.0") && version.stdout.contains("stack at http://127.0.0.1:\(port): infer 0.2.0"),
                "\(version.stdout)")

        let status = try runInferctl(["status", "--runtime-dir", stack.runtimeDirectory])
        #expect(status.status == 0)
        #expect(status.stdout.contains("UPTIME") && status.stdout.contains(stack.runtimeDirectory + "/limitd.sock"), "\(status.stdout)")

        _ = stack.stop()
        stopped = true
        let gone = try runInferctl(["health", "--url", url])
        #expect(gone.status == 3 && gone.stdout.hasPrefix("not reachable"), "\(gone.stdout)")
    }

    @Test("config check: a good configuration passes; each kind of mistake is named where it is")
    func configCheck() throws {
        let dir = try TemporaryDirectory()
        let registry = dir.path + "/models.json", keys = dir.path + "/keys.json", env = dir.path + "/infer.env"
        try Data(contentsOf: URL(fileURLWithPath: packageRoot + "/config/models.json")).write(to: URL(fileURLWithPath: registry))
        #expect(try runInferctl(["keys", "create", "ops", "--scopes", "infer", "--file", keys]).status == 0)
        let bin = (builtProduct("frontd") as NSString).deletingLastPathComponent
        func check(_ envText: String, registryPath: String = registry) throws -> (status: Int32, stdout: String, stderr: String) {
            try envText.write(toFile: env, atomically: true, encoding: .utf8)
            return try runInferctl(["config", "check", "--env-file", env, "--registry", registryPath, "--keys-file", keys, "--bin-dir", bin],
                                   environment: ["PATH": "/usr/bin:/bin", "INFER_MODELS_DIR": packageRoot + "/models"])
        }
        let good = try check("LOG_LEVEL=info\nRATE_LIMIT_RPM=60\nBATCH_MAX_SIZE=8\n")
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("ok    modeld@smollm2 settings") && good.stdout.contains("configuration ok"), "\(good.stdout)")

        let badValue = try check("BATCH_MAX_SIZE=many\n")
        #expect(badValue.status == 78)
        #expect(badValue.stdout.contains("FAIL  batchd settings") && badValue.stdout.contains("BATCH_MAX_SIZE"), "\(badValue.stdout)")

        let badLine = try check("LOG_LEVEL=info\nthis is not an assignment\n")
        #expect(badLine.status == 78 && badLine.stdout.contains("\(env):2"), "\(badLine.stdout)")

        let broken = dir.path + "/broken.json"
        try #"{"models": [{"name": "x", "kind": "chat", "engine": "openai", "url": "ftp://nowhere"}]}"#
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let badRegistry = try check("LOG_LEVEL=info\n", registryPath: broken)
        #expect(badRegistry.status == 78 && badRegistry.stdout.contains("model registry \(broken)") && badRegistry.stdout.contains("url"),
                "\(badRegistry.stdout)")
    }

    @Test("completion scripts: bash loads and completes the commands")
    func completion() throws {
        let bash = try runInferctl(["completion", "bash"])
        #expect(bash.status == 0 && bash.stdout.contains("complete -F _inferctl inferctl"))
        let dir = try TemporaryDirectory()
        try bash.stdout.write(toFile: dir.path + "/c.bash", atomically: true, encoding: .utf8)
        let probe = try runCapturing("/bin/bash", ["-c", "source \(dir.path)/c.bash && COMP_WORDS=(inferctl he) COMP_CWORD=1 && _inferctl && echo ${COMPREPLY[@]}"],
                                     separateError: true, timeout: .seconds(60))
        let out = probe.output
        #expect(probe.status == 0 && out.trimmingCharacters(in: .whitespacesAndNewlines) == "health help", "\(out) \(probe.error)")
        let zsh = try runInferctl(["completion", "zsh"])
        #expect(zsh.stdout.hasPrefix("#compdef inferctl"))
        // Real zsh sources it and, asked at `inferctl keys <TAB>`, offers the keys subcommands and flags
        // (the completion system's _values and compdef stand in for themselves, printing what they get).
        try zsh.stdout.write(toFile: dir.path + "/_inferctl", atomically: true, encoding: .utf8)
        let z = try runCapturing("/usr/bin/zsh", ["-f", "-c", "_values() { print -r -- \"$@\" }; compdef() { print compdef \"$@\" }; source \(dir.path)/_inferctl && "
                                 + "words=(inferctl keys ''); CURRENT=3; _inferctl; words=(inferctl he); CURRENT=2; _inferctl"],
                                 separateError: true, timeout: .seconds(60))
        let zout = z.output
        #expect(z.status == 0 && zout.contains("compdef _inferctl inferctl"), "\(zout) \(z.error)")
        #expect(zout.contains("option create update list revoke") && zout.contains("--max-budget") && zout.contains("--expires"), "\(zout)")
        #expect(zout.contains("command up status keys health"), "\(zout)")
        #expect(try runInferctl(["completion", "fish"]).status == 64)
    }
}
