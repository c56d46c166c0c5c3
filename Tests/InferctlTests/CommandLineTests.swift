import Testing

@testable import inferctl

@Suite("inferctl command line")
struct CommandLineTests {
    @Test("No arguments, --help, -h and help show the overview")
    func help() throws {
        #expect(try InferctlCommand.parse([]) == .help(topic: nil))
        #expect(try InferctlCommand.parse(["--help"]) == .help(topic: nil))
        #expect(try InferctlCommand.parse(["-h"]) == .help(topic: nil))
        #expect(try InferctlCommand.parse(["help"]) == .help(topic: nil))
        #expect(try InferctlCommand.parse(["help", "up"]) == .help(topic: "up"))
        #expect(try InferctlCommand.parse(["up", "--port", "1", "--help"]) == .help(topic: "up"))
        #expect(try InferctlCommand.parse(["status", "-h"]) == .help(topic: "status"))
        #expect(HelpText.text(for: "up").contains("--env-file FILE"))
        #expect(HelpText.text(for: nil).contains("78"))
    }

    @Test("up takes every flag, as --flag value or --flag=value")
    func upFlags() throws {
        let command = try InferctlCommand.parse([
            "up", "--runtime-dir", "/tmp/r", "--bin-dir=/opt/bin", "--registry", "models.json", "--port", "0",
            "--metrics-port=9999", "--env-file", "a.env", "--env-file=b.env", "--watchdog-sec", "0",
            "--stop-timeout", "2.5", "--start-timeout=500ms",
        ])
        var expected = UpOptions()
        expected.runtimeDirectory = "/tmp/r"
        expected.files.binDirectory = "/opt/bin"
        expected.files.registry = "models.json"
        expected.port = 0
        expected.metricsPort = 9999
        expected.files.environmentFiles = ["a.env", "b.env"]
        expected.watchdog = .zero
        expected.stopTimeout = .milliseconds(2500)
        expected.startTimeout = .milliseconds(500)
        #expect(command == .up(expected))
        #expect(try InferctlCommand.parse(["up"]) == .up(UpOptions()))
    }

    @Test("status takes --runtime-dir and --json")
    func statusFlags() throws {
        #expect(try InferctlCommand.parse(["status"]) == .status(StatusOptions()))
        #expect(try InferctlCommand.parse(["status", "--json", "--runtime-dir=/x"])
            == .status(StatusOptions(runtimeDirectory: "/x", json: true)))
    }

    @Test("Wrong command lines are usage errors (exit 64) that say what is wrong", arguments: [
        (["down"], "unknown command \"down\""),
        (["help", "down"], "unknown command \"down\""),
        (["up", "--port"], "--port needs a value"),
        (["up", "--port", "65536"], "--port 65536: expected a port number"),
        (["up", "--port=http"], "--port http"),
        (["up", "--metrics-port", "-1"], "--metrics-port -1"),
        (["up", "--watchdog-sec", "soon"], "--watchdog-sec soon: expected seconds"),
        (["up", "--start-timeout", "0"], "expected seconds above 0"),
        (["up", "--stop-timeout", "inf"], "--stop-timeout inf"),
        (["up", "--runtime-dir="], "--runtime-dir needs a value"),
        (["up", "--frobnicate", "1"], "unknown option --frobnicate for up"),
        (["up", "extra"], "unexpected argument \"extra\""),
        (["status", "--json=yes"], "--json takes no value"),
        (["status", "--port", "1"], "unknown option --port for status"),
    ])
    func usageErrors(arguments: [String], words: String) {
        do {
            _ = try InferctlCommand.parse(arguments)
            Issue.record("\(arguments) should be rejected")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.exitStatus == 64)
            #expect(error.description.contains(words), "\(error.description)")
        }
    }

    @Test("Seconds: plain, decimal and with a unit", arguments: [
        ("10", Duration.seconds(10)), ("0.5", .milliseconds(500)), ("250ms", .milliseconds(250)),
        ("2s", .seconds(2)), ("1m", .seconds(60)), ("0", .zero),
    ])
    func seconds(text: String, expected: Duration) {
        #expect(parseSeconds(text) == expected)
    }

    @Test("Not seconds", arguments: ["", "-1", "1h", "nan", "0x10", "1e3", "2 s", "100000"])
    func notSeconds(text: String) {
        #expect(parseSeconds(text) == nil)
    }
}
