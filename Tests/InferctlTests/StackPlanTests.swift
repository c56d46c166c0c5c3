import IPC
import Testing

@testable import inferctl
import Registry

@Suite("Stack plan, configuration and notifications")
struct StackPlanTests {
    @Test("Every daemon gets the contract's sockets, in start order; stop order is the reverse")
    func plan() throws {
        let plan = try StackPlan.make(
            runtimeDirectory: "/run/infer", binDirectory: "/usr/local/bin", models: ["smollm2", "minilm"],
            bindAddress: "0.0.0.0", port: 8080, metricsPort: 9464)
        #expect(plan.daemons.map(\.unit)
            == ["metricsd", "limitd", "cached", "modeld@smollm2", "modeld@minilm", "batchd", "frontd"])
        #expect(plan.stopOrder.first?.unit == "frontd")
        #expect(plan.stopOrder.last?.unit == "metricsd")
        let sockets = Dictionary(uniqueKeysWithValues: plan.daemons.map { ($0.unit, $0.sockets) })
        #expect(sockets["metricsd"] == [
            SocketPlan(name: "metricsd", endpoint: .unix(path: "/run/infer/metricsd.sock")),
            SocketPlan(name: "metrics-http", endpoint: .tcp(host: "0.0.0.0", port: 9464)),
        ])
        #expect(sockets["limitd"] == [SocketPlan(name: "limitd", endpoint: .unix(path: "/run/infer/limitd.sock"))])
        #expect(sockets["cached"] == [SocketPlan(name: "cached", endpoint: .unix(path: "/run/infer/cached.sock"))])
        #expect(sockets["batchd"] == [SocketPlan(name: "batchd", endpoint: .unix(path: "/run/infer/batchd.sock"))])
        #expect(sockets["modeld@minilm"]
            == [SocketPlan(name: "modeld", endpoint: .unix(path: "/run/infer/modeld-minilm.sock"))])
        #expect(sockets["frontd"] == [SocketPlan(name: "http", endpoint: .tcp(host: "0.0.0.0", port: 8080)),
                                      SocketPlan(name: "frontd", endpoint: .unix(path: "/run/infer/frontd.sock"))])
        let modeld = try #require(plan.daemons.first { $0.unit == "modeld@smollm2" })
        #expect(modeld.executable == "/usr/local/bin/modeld")
        #expect(modeld.environment == ["INFER_MODEL": "smollm2"])
    }

    @Test("A socket path too long for sockaddr_un is a configuration error")
    func longPath() {
        let directory = "/tmp/" + String(repeating: "d", count: 90)
        #expect(throws: InferctlError.self) {
            try StackPlan.make(
                runtimeDirectory: directory, binDirectory: "/bin", models: ["model"], bindAddress: "::", port: 1,
                metricsPort: 2)
        }
    }

    @Test("Flags win over the environment, which wins over the defaults")
    func precedence() throws {
        let defaults = try StackConfiguration.resolve(
            options: UpOptions(), environment: ["HOME": "/root", "LISTEN_FDS": "3", "NOTIFY_SOCKET": "/x"],
            executableDirectory: "/opt/infer/bin", currentDirectory: "/srv")
        #expect(defaults.runtimeDirectory == "/run/infer")
        #expect(defaults.registryPath == "/etc/infer/models.json")
        #expect(defaults.binDirectory == "/opt/infer/bin")
        #expect(defaults.port == 8080)
        #expect(defaults.metricsPort == 9464)
        #expect(defaults.bindAddress == "0.0.0.0")
        #expect(defaults.watchdog == .seconds(10))
        #expect(defaults.stopTimeout == .seconds(30))
        #expect(defaults.environment["HOME"] == "/root")
        #expect(defaults.environment["LISTEN_FDS"] == nil)
        #expect(defaults.environment["NOTIFY_SOCKET"] == nil)
        #expect(defaults.environment["INFER_RUNTIME_DIR"] == "/run/infer")
        #expect(defaults.environment["PORT"] == "8080")

        let environment = [
            "INFER_RUNTIME_DIR": "run", "INFER_MODEL_REGISTRY": "/etc/m.json", "PORT": "1234",
            "METRICS_PORT": "4321", "BIND_ADDRESS": "127.0.0.1",
        ]
        let fromEnvironment = try StackConfiguration.resolve(
            options: UpOptions(), environment: environment, executableDirectory: "/b", currentDirectory: "/srv")
        #expect(fromEnvironment.runtimeDirectory == "/srv/run")
        #expect(fromEnvironment.registryPath == "/etc/m.json")
        #expect(fromEnvironment.port == 1234)
        #expect(fromEnvironment.metricsPort == 4321)
        #expect(fromEnvironment.bindAddress == "127.0.0.1")

        var options = UpOptions()
        options.runtimeDirectory = "/tmp/r"
        options.files.registry = "config/models.json"
        options.port = 0
        options.metricsPort = 0
        options.watchdog = .zero
        let fromFlags = try StackConfiguration.resolve(
            options: options, environment: environment, executableDirectory: "/b", currentDirectory: "/srv")
        #expect(fromFlags.runtimeDirectory == "/tmp/r")
        #expect(fromFlags.registryPath == "/srv/config/models.json")
        #expect(fromFlags.environment["INFER_MODEL_REGISTRY"] == "/srv/config/models.json")
        #expect(fromFlags.port == 0)
        #expect(fromFlags.watchdog == nil)
    }

    @Test("Bad environment values name the variable", arguments: [
        (["PORT": "http"], "PORT=http"),
        (["METRICS_PORT": "70000"], "METRICS_PORT=70000"),
        (["BIND_ADDRESS": "localhost"], "BIND_ADDRESS=localhost"),
        (["PORT": "9000", "METRICS_PORT": "9000"], "both 9000"),
    ])
    func badEnvironment(environment: [String: String], words: String) {
        do {
            _ = try StackConfiguration.resolve(
                options: UpOptions(), environment: environment, executableDirectory: "/b", currentDirectory: "/")
            Issue.record("\(environment) should be rejected")
        } catch {
            #expect(error.exitStatus == 78)
            #expect(error.description.contains(words), "\(error.description)")
        }
    }

    @Test("A daemon's environment says what systemd would; the shell exports the pid variables")
    func launchEnvironment() throws {
        let plan = try StackPlan.make(
            runtimeDirectory: "/run/infer", binDirectory: "/b", models: ["smollm2"], bindAddress: "0.0.0.0",
            port: 8080, metricsPort: 9464)
        let metricsd = try #require(plan.daemons.first)
        let environment = DaemonLauncher.environment(
            for: metricsd, base: ["PORT": "8080"], notifySocket: "/run/infer/n.sock", watchdog: .seconds(10))
        #expect(environment["LISTEN_FDS"] == "2")
        #expect(environment["LISTEN_FDNAMES"] == "metricsd:metrics-http")
        #expect(environment["NOTIFY_SOCKET"] == "/run/infer/n.sock")
        #expect(environment["WATCHDOG_USEC"] == "10000000")
        #expect(environment["LISTEN_PID"] == nil)
        let modeld = try #require(plan.daemons.first { $0.unit == "modeld@smollm2" })
        let modeldEnvironment = DaemonLauncher.environment(
            for: modeld, base: ["WATCHDOG_USEC": "1"], notifySocket: "/n", watchdog: nil)
        #expect(modeldEnvironment["INFER_MODEL"] == "smollm2")
        #expect(modeldEnvironment["LISTEN_FDNAMES"] == "modeld")
        #expect(modeldEnvironment["WATCHDOG_USEC"] == nil)
        #expect(DaemonLauncher.shellScript(watchdog: true)
            == #"LISTEN_PID=$$; export LISTEN_PID; WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$0""#)
        #expect(DaemonLauncher.shellScript(watchdog: false) == #"LISTEN_PID=$$; export LISTEN_PID; exec "$0""#)
    }

    @Test("sd_notify datagrams")
    func notifyMessages() {
        let ready = NotifyMessage(Array("READY=1\nSTATUS=serving 2 models\nMAINPID=42".utf8))
        #expect(ready.ready)
        #expect(ready.status == "serving 2 models")
        #expect(!ready.watchdogPing)
        let ping = NotifyMessage(Array("WATCHDOG=1".utf8))
        #expect(ping.watchdogPing && !ping.ready && ping.status == nil)
        let other = NotifyMessage(Array("STOPPING=1\nSTATUS=draining\nEXTEND_TIMEOUT_USEC=2500000\nERRNO=5\nWATCHDOG=trigger\nWATCHDOG_USEC=0\nX".utf8))
        #expect(other.stopping)
        #expect(other.extendTimeout == .milliseconds(2500))
        #expect(other.errorNumber == 5)
        #expect(other.watchdogTrigger && !other.watchdogPing)
        #expect(other.watchdogInterval == nil)
        #expect(NotifyMessage(Array("READY=0".utf8)).ready == false)
        #expect(NotifyMessage([0xFF, 0xFE]) == NotifyMessage([]))
    }

    @Test("The status table")
    func statusTable() {
        let state = StackState(
            pid: 1, startedAt: "2026-11-23T09:00:00Z", runtimeDirectory: "/run/infer", apiURL: "http://127.0.0.1:8080",
            metricsURL: "http://127.0.0.1:9464/metrics", ready: true, stopping: false,
            daemons: [
                .init(unit: "limitd", state: "running", pid: 42, restarts: 1, status: "ready", lastExit: nil,
                      sockets: ["limitd=/run/infer/limitd.sock"], startedAt: 1_000),
                .init(unit: "modeld@smollm2", state: "restarting", pid: nil, restarts: 3, status: nil,
                      lastExit: "killed by signal 9 (SIGKILL)", sockets: ["modeld=/run/infer/modeld-smollm2.sock"]),
            ])
        let text = StatusCommand.render(state, now: 1_000 + 3_725)
        #expect(text.contains("inferctl pid 1, ready"))
        #expect(text.contains("DAEMON          STATE       PID  UPTIME  RESTARTS  SOCKET                          STATUS / LAST EXIT"), "\(text)")
        #expect(text.contains("limitd          running     42   1h 2m   1         /run/infer/limitd.sock          ready"), "\(text)")
        #expect(text.contains("modeld@smollm2  restarting  -    -       3         /run/infer/modeld-smollm2.sock  last: killed by signal 9 (SIGKILL)"))
        #expect(StatusCommand.uptime(59) == "59s" && StatusCommand.uptime(61) == "1m 1s" && StatusCommand.uptime(90_000) == "1d 1h")
        #expect(ReadyBanner.displayHost("0.0.0.0") == "127.0.0.1")
        #expect(ReadyBanner.displayHost("::") == "[::1]")
        #expect(ReadyBanner.displayHost("fe80::1") == "[fe80::1]")
    }

    @Test("The banner's curl lines carry the key made at start, else a placeholder naming the keys file, else nothing when auth is off")
    func bannerAuthorization() throws {
        var configuration = try StackConfiguration.resolve(
            options: UpOptions(), environment: ["API_KEYS_FILE": "/srv/keys.json"], executableDirectory: "/b", currentDirectory: "/srv")
        #expect(configuration.keysFile == "/srv/keys.json")
        #expect(configuration.environment["API_KEYS_FILE"] == "/srv/keys.json")
        let registry = ModelRegistry(models: [
            ModelEntry(name: "smollm2", kind: .chat, engine: .builtin, path: "/m/s.gguf"),
            ModelEntry(name: "minilm", kind: .embedding, engine: .builtin, path: "/m/minilm"),
        ])
        let placeholder = ReadyBanner.text(configuration: configuration, registry: registry, daemonCount: 7)
        #expect(placeholder.components(separatedBy: "-H \"Authorization: Bearer $INFER_API_KEY\"").count == 5)
        #expect(placeholder.contains("/srv/keys.json"))

        configuration.shownKey = "sk-infer-abc"
        let shown = ReadyBanner.text(configuration: configuration, registry: registry, daemonCount: 7)
        #expect(shown.components(separatedBy: "-H 'Authorization: Bearer sk-infer-abc'").count == 5)
        #expect(shown.contains("shown only this once"))

        var options = UpOptions()
        options.files.keysFile = "state/keys.json"
        let disabled = try StackConfiguration.resolve(
            options: options, environment: ["AUTH_DISABLED": "yes"], executableDirectory: "/b", currentDirectory: "/srv")
        #expect(disabled.keysFile == "/srv/state/keys.json" && disabled.authDisabled)
        let open = ReadyBanner.text(configuration: disabled, registry: registry, daemonCount: 7)
        #expect(!open.contains("Authorization") && open.contains("AUTH_DISABLED=true"))
        #expect(throws: InferctlError.self) {
            try StackConfiguration.resolve(options: UpOptions(), environment: ["AUTH_DISABLED": "maybe"], executableDirectory: "/b", currentDirectory: "/srv")
        }
        #expect(try InferctlCommand.parse(["up", "--keys-file", "k.json", "--first-key"]) == .up({
            var o = UpOptions()
            o.files.keysFile = "k.json"
            o.firstKey = true
            return o
        }()))
    }
}
