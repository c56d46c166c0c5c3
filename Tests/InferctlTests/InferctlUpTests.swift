import Foundation
import Glibc
import Testing
import TestKit

/// `inferctl up` with stand-in daemons (daemon-standin linked under each daemon's name): real processes,
/// real sockets, real sd_notify. Serialized: each test runs a stack of eight processes on a small machine.
@Suite("inferctl up runs the stack", .serialized)
struct InferctlUpTests {
    /// Debug builds on a loaded 2-core machine: starting eight Swift processes can take a few seconds.
    static let readyTimeout: Duration = .seconds(60)

    static let units = ["metricsd", "limitd", "cached", "modeld@alpha", "modeld@beta", "batchd", "frontd"]

    @Test("Sockets are created and inherited; a SIGKILLed daemon is back within 2 s while a client waits in the backlog; a clean exit restarts on the next connection; SIGTERM stops all in reverse order and exits 0")
    func lifecycle() throws {
        let run = try StackRun()
        try #require(run.wait(Self.readyTimeout) { run.isReady }, "stack not ready:\n\(run.standardError.suffix(3000))")
        #expect(run.standardOutput.contains("infer is ready: 7 daemons"))
        #expect(run.standardOutput.contains("/v1/chat/completions"))
        #expect(run.standardOutput.contains("\"model\": \"alpha\""))
        let pids = run.pids()
        #expect(Set(pids.keys) == Set(Self.units))

        // Every Unix socket exists with mode 0660 and is answered by the daemon inferctl started.
        let unixSockets = [
            ("metricsd", "metricsd"), ("limitd", "limitd"), ("cached", "cached"), ("modeld@alpha", "modeld-alpha"),
            ("modeld@beta", "modeld-beta"), ("batchd", "batchd"),
        ]
        for (unit, file) in unixSockets {
            let path = run.runtimeDirectory + "/\(file).sock"
            var info = stat()
            #expect(lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK, "\(path) is not a socket")
            #expect(info.st_mode & 0o777 == 0o660, "\(path) has mode \(String(info.st_mode & 0o777, radix: 8))")
            let reply = askUnix(path)
            #expect(reply == "\(file) pid \(pids[unit] ?? -1)\n", "\(unit): \(reply ?? "no reply")")
        }
        let httpPort = try #require(run.port("http"))
        let metricsPort = try #require(run.port("metrics-http"))
        #expect(askHTTP(port: httpPort)?.hasSuffix("frontd pid \(pids["frontd"] ?? -1)\n") == true)
        #expect(askHTTP(port: metricsPort)?.hasSuffix("metricsd pid \(pids["metricsd"] ?? -1)\n") == true)
        #expect(run.standardOutput.contains("127.0.0.1:\(httpPort)/v1/chat/completions"))
        #expect(run.standardOutput.contains("127.0.0.1:\(metricsPort)/metrics"))

        // The runtime of each stand-in says it took its sockets from LISTEN_FDS (LISTEN_PID matched) and
        // bound none itself.
        let listening = run.logLines().filter { $0["daemon"] as? String != "inferctl" && $0["msg"] as? String == "listening" }
        #expect(listening.filter { $0["activated"] as? Bool == true }.count == 9)
        #expect(listening.allSatisfy { $0["activated"] as? Bool == true })
        #expect(Set(listening.compactMap { $0["socket"] as? String })
            == ["metricsd", "metrics-http", "limitd", "cached", "modeld", "batchd", "http", "frontd"])

        // SIGKILL limitd; connect at once: the connection waits in the backlog of the socket inferctl holds
        // and is answered by the new process.
        let old = try #require(pids["limitd"])
        let killed = ContinuousClock.now
        #expect(kill(old, SIGKILL) == 0)
        let connectedAt = Date()
        let reply = askUnix(run.runtimeDirectory + "/limitd.sock", timeout: .seconds(5))
        let elapsed = ContinuousClock.now - killed
        let new = try #require(reply.flatMap { Int32($0.split(separator: " ").last?.dropLast() ?? "") },
                               "no reply after the restart: \(reply ?? "nil")")
        #expect(new != old)
        #expect(elapsed < .seconds(2), "limitd answered \(elapsed) after SIGKILL")
        let restarted = try #require(run.events("restarted", unit: "limitd").last)
        let restartTime = try #require(timestamp(restarted))
        #expect(connectedAt < restartTime, "the client connected before the new limitd was started")
        #expect(run.events("daemon failed; restarting it", unit: "limitd").first?["outcome"] as? String
            == "killed by signal 9 (SIGKILL)")
        #expect(run.wait(.seconds(5)) { run.daemon("limitd")?["state"] as? String == "running" })
        #expect(run.daemon("limitd")?["restarts"] as? Int == 1)

        // A daemon that exits cleanly (SIGTERM → drain → 0) is not restarted until a client connects.
        let cachedPID = try #require(pids["cached"])
        kill(cachedPID, SIGTERM)
        #expect(run.wait(.seconds(10)) { run.daemon("cached")?["state"] as? String == "waiting for a connection" })
        usleep(300_000)
        #expect(run.daemon("cached")?["pid"] == nil, "cached was restarted without a connection")
        let cachedReply = askUnix(run.runtimeDirectory + "/cached.sock", timeout: .seconds(5))
        #expect(cachedReply?.hasPrefix("cached pid ") == true)
        #expect(cachedReply != "cached pid \(cachedPID)\n")
        #expect(run.events("connection waiting: starting the daemon", unit: "cached").count == 1)

        // SIGTERM: every daemon stops, frontd first, and inferctl exits 0 leaving no socket behind.
        let finalPIDs = run.pids()
        let status = run.stop(signal: SIGTERM)
        #expect(status == 0, "inferctl exited \(status.map(String.init) ?? "late or by a signal")")
        let stopping = run.events("stopping").compactMap { $0["unit"] as? String }
        #expect(stopping == Self.units.reversed(), "stop order \(stopping)")
        for (unit, pid) in finalPIDs {
            #expect(!processExists(pid), "\(unit) (pid \(pid)) still runs")
        }
        // Sockets and the state file go; the daemons' durable state (state/) stays for the next `up`.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: run.runtimeDirectory)) ?? []
        #expect(left == ["state"], "left in the runtime directory: \(left)")
        let stateDirectories = (try? FileManager.default.contentsOfDirectory(atPath: run.runtimeDirectory + "/state")) ?? []
        #expect(Set(stateDirectories) == ["limitd", "cached"], "\(stateDirectories)")
        #expect(run.events("stack stopped").first?["status"] as? Int == 0)
    }

    @Test("A daemon that exits 78 (configuration error) is not restarted and stops the stack; inferctl exits 78")
    func configurationErrorStopsTheStack() throws {
        let run = try StackRun(environmentFile: ["# cached refuses its configuration", "STANDIN_CACHED_EXIT=78"])
        let status = run.exitCode(timeout: Self.readyTimeout)
        #expect(status == 78, "inferctl: \(status.map(String.init) ?? "still running")\n\(run.standardError.suffix(2000))")
        let failure = try #require(run.logLines().first {
            $0["daemon"] as? String == "inferctl" && $0["level"] as? String == "error" && $0["unit"] as? String == "cached"
        })
        #expect((failure["msg"] as? String)?.contains("status 78") == true)
        #expect(run.events("started", unit: "cached").count == 1)
        #expect(run.events("restarted", unit: "cached").isEmpty)
        #expect(!run.standardOutput.contains("infer is ready"))
        let stopped = run.events("stopped").compactMap { $0["unit"] as? String }
        #expect(Set(stopped) == Set(Self.units.filter { $0 != "cached" }))
    }

    /// A 3 s watchdog (pings every 1.5 s): shorter ones miss pings when other builds load the machine.
    @Test("A daemon that stops pinging its watchdog is aborted and restarted")
    func watchdog() throws {
        let run = try StackRun(
            models: [("alpha", "chat")], arguments: ["--watchdog-sec", "3", "--stop-timeout", "2"],
            environmentFile: ["STANDIN_BATCHD_HEALTHY=false"])
        try #require(run.wait(Self.readyTimeout) { run.isReady }, "stack not ready:\n\(run.standardError.suffix(3000))")
        let first = try #require(run.pid("batchd"))
        #expect(run.wait(.seconds(20)) { !run.events("restarted", unit: "batchd").isEmpty },
                "batchd was not restarted:\n\(run.standardError.suffix(3000))")
        let timeout = run.events("watchdog timeout: no WATCHDOG=1 in time; aborting the daemon (SIGABRT)", unit: "batchd")
        #expect(!timeout.isEmpty)
        #expect(run.wait(.seconds(10)) { (run.pid("batchd") ?? first) != first })
        // The healthy daemons kept pinging and were never restarted.
        for unit in ["metricsd", "limitd", "cached", "modeld@alpha", "frontd"] {
            #expect(run.events("restarted", unit: unit).isEmpty, "\(unit) was restarted")
        }
        #expect(run.stop() == 0)
    }

    @Test("Configuration and system errors stop inferctl before any daemon starts", arguments: [
        (["--bin-dir", "/nonexistent"], 78, "no executable metricsd, limitd, cached, modeld, batchd, frontd in /nonexistent"),
        (["--registry", "/nonexistent/models.json"], 78, "cannot read the model registry /nonexistent/models.json"),
        (["--env-file", "/nonexistent/infer.env"], 78, "cannot read the environment file /nonexistent/infer.env"),
    ])
    func earlyErrors(arguments: [String], status: Int32, words: String) throws {
        let run = try StackRun(arguments: arguments)
        #expect(run.exitCode(timeout: .seconds(20)) == status)
        #expect(run.standardError.contains(words), "\(run.standardError)")
        #expect(run.events("started").isEmpty)
    }

    @Test("A port in use is a system error (exit 71)")
    func portInUse() throws {
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(holder, $0, length) == 0 && listen(holder, 1) == 0 && getsockname(holder, $0, &length) == 0
            }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let run = try StackRun(arguments: ["--port", String(port)])
        #expect(run.exitCode(timeout: .seconds(20)) == 71)
        #expect(run.standardError.contains("cannot bind 127.0.0.1:\(port)"), "\(run.standardError)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: run.runtimeDirectory)) ?? []
        #expect(left.filter { $0.hasSuffix(".sock") }.isEmpty, "sockets left behind: \(left)")
    }
}
