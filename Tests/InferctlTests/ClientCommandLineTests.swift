import Testing

@testable import inferctl

/// The command lines of chat, complete, embed, test-api and bench, and the figures bench computes.
@Suite("inferctl client commands: command lines and bench figures")
struct ClientCommandLineTests {
    @Test("chat: -m and --message, the shared flags, --help as a flag of its own but not as a message")
    func chat() throws {
        var expected = ChatOptions()
        expected.message = "--help"
        expected.system = "be brief"
        expected.stream = false
        expected.client.url = "http://h:1/v1"
        expected.client.json = true
        expected.generation.maxTokens = 12
        expected.generation.temperature = 0.5
        #expect(try InferctlCommand.parse(["chat", "-m", "--help", "--system=be brief", "--no-stream", "--url", "http://h:1/v1",
                                           "--json", "--max-tokens", "12", "--temperature", "0.5"]) == .chat(expected))
        #expect(try InferctlCommand.parse(["chat", "--model", "m", "--help"]) == .help(topic: "chat"))
        #expect(try InferctlCommand.parse(["help", "bench"]) == .help(topic: "bench"))
        #expect(HelpText.text(for: "test-api").contains("(401)") && HelpText.text(for: "chat").contains("--url URL"))
    }

    @Test("embed takes texts and flags in any order; complete takes -p")
    func embedAndComplete() throws {
        var embed = EmbedOptions()
        embed.texts = ["a", "b c", "--not-a-flag"]
        embed.model = "minilm"
        #expect(try InferctlCommand.parse(["embed", "a", "--model", "minilm", "b c", "--", "--not-a-flag"]) == .embed(embed))
        var complete = CompleteOptions()
        complete.prompt = "Once"
        #expect(try InferctlCommand.parse(["complete", "-p", "Once"]) == .complete(complete))
    }

    @Test("bench: its flags, and compare with two files")
    func bench() throws {
        var run = BenchRunOptions()
        run.concurrency = 8
        run.requests = 100
        run.duration = .seconds(30)
        run.stream = true
        run.out = "a.json"
        run.allowCache = true
        run.promptsFile = "p.txt"
        #expect(try InferctlCommand.parse(["bench", "--concurrency", "8", "--requests=100", "--duration", "30s", "--stream",
                                           "--out", "a.json", "--allow-cache", "--prompts", "p.txt"]) == .bench(.run(run)))
        #expect(try InferctlCommand.parse(["bench", "compare", "a.json", "b.json", "--json"])
            == .bench(.compare(first: "a.json", second: "b.json", json: true)))
    }

    @Test("Wrong client command lines are usage errors (exit 64) naming what is wrong", arguments: [
        (["chat", "hello"], "unexpected argument \"hello\""),
        (["chat", "-x"], "unknown option -x"),
        (["chat", "--max-tokens", "0"], "--max-tokens 0"),
        (["chat", "--temperature", "3"], "--temperature 3"),
        (["chat", "--temperature", "nan"], "--temperature nan"),
        (["complete", "--message", "x"], "unknown option --message for complete"),
        (["embed", ""], "a text is empty"),
        (["test-api", "--stream", "x"], "unknown option --stream for test-api"),
        (["bench", "--concurrency", "0"], "--concurrency 0"),
        (["bench", "--concurrency", "257"], "between 1 and 256"),
        (["bench", "--requests", "-1"], "--requests -1"),
        (["bench", "--duration", "0"], "--duration 0"),
        (["bench", "compare", "a.json"], "two saved runs"),
        (["bench", "--timeout", "never"], "--timeout never"),
    ])
    func usageErrors(arguments: [String], words: String) {
        do {
            _ = try InferctlCommand.parse(arguments)
            Issue.record("\(arguments) should be rejected")
        } catch {
            #expect(error.exitStatus == 64)
            #expect(error.description.contains(words), "\(error.description)")
        }
    }

    @Test("--url: a bare host and port means its /v1")
    func url() {
        #expect(APIClient.withVersionPath("http://127.0.0.1:8080") == "http://127.0.0.1:8080/v1")
        #expect(APIClient.withVersionPath("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/v1")
        #expect(APIClient.withVersionPath("http://h/api/v1") == "http://h/api/v1")
    }

    @Test("percentiles interpolate between the nearest ranks; an empty list has none")
    func percentiles() throws {
        let distribution = try #require(BenchReport.Distribution(seconds: (1...100).map { Double($0) / 1000 }))
        #expect(distribution.count == 100)
        #expect(abs(distribution.p50 - 50.5) < 1e-9)
        #expect(abs(distribution.p90 - 90.1) < 1e-9)
        #expect(abs(distribution.p99 - 99.01) < 1e-9)
        #expect(abs(distribution.mean - 50.5) < 1e-9 && distribution.max == 100)
        let one = try #require(BenchReport.Distribution(seconds: [0.25]))
        #expect(one.p50 == 250 && one.p99 == 250)
        #expect(BenchReport.Distribution(seconds: []) == nil)
    }
}
