import CSystemd
import Foundation
import Glibc
import IPC
import Spawn
import Testing
import TestKit

/// The runtime as systemd drives it, on a real child process (`runtime-probe`): socket activation,
/// fallback binding, sd_notify, the watchdog, drain and exit statuses.
@Suite("Daemon runtime in a child process", .serialized)
struct DaemonProcessTests {
    @Test("serves on a socket passed by systemd (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID)")
    func socketActivation() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("activated.sock")
        let listener = TestSockets.bound(path)
        defer { close(listener) }
        let probe = try ProbeRun(
            environment: [
                "LISTEN_FDS": "1", "LISTEN_FDNAMES": "probe",
                "INFER_RUNTIME_DIR": directory.file("fallback"),
            ],
            descriptors: [3: listener], exportOwnPid: ["LISTEN_PID"])

        // Only the inherited socket is at `path`: an answer there proves the probe accepts on fd 3.
        #expect(TestSockets.request(path) == "ok\n")
        #expect(!FileManager.default.fileExists(atPath: directory.file("fallback")))
        probe.child.signal(SIGTERM)
        let (status, lines) = probe.finish()
        #expect(status == .exited(0))
        let records = parseLogLines(lines)
        #expect(records.allSatisfy { $0 != nil }, "every stderr line is JSON: \(lines)")
        let info = records.compactMap { $0 }.first { $0["msg"] as? String == "probe listener" }
        #expect(info?["fd"] as? Int == 3)
        #expect(info?["activated"] as? Bool == true)
        #expect(info?["nonblock"] as? Bool == true)
        #expect(info?["cloexec"] as? Bool == true)
        #expect(info?["listen_env_left"] as? Bool == false, "LISTEN_* are unset so children do not inherit them")
        // systemd's socket file is never removed by the daemon.
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("a socket passed without a matching name is taken when it is the only one")
    func activationWithoutName() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("unnamed.sock")
        let listener = TestSockets.bound(path)
        defer { close(listener) }
        let probe = try ProbeRun(
            environment: ["LISTEN_FDS": "1", "INFER_RUNTIME_DIR": directory.file("fallback")],
            descriptors: [3: listener], exportOwnPid: ["LISTEN_PID"])
        #expect(TestSockets.request(path) == "ok\n")
        probe.child.signal(SIGTERM)
        let (status, lines) = probe.finish()
        #expect(status == .exited(0))
        #expect(lines.contains { $0.contains("FileDescriptorName=probe") })
    }

    @Test("refuses an inherited descriptor that is not a listening Unix stream socket", arguments: ["datagram", "pipe"])
    func activationWrongKind(kind: String) throws {
        let directory = try TemporaryDirectory()
        var pipeEnds: (read: Int32, write: Int32)?
        let descriptor: Int32
        if kind == "pipe" {
            let ends = try ProcessSpawner.makePipe()
            pipeEnds = ends
            descriptor = ends.read
        } else {
            descriptor = TestSockets.bound(directory.file("dgram.sock"), type: Int32(SOCK_DGRAM.rawValue))
        }
        defer {
            close(descriptor)
            if let pipeEnds { close(pipeEnds.write) }
        }
        let probe = try ProbeRun(
            environment: ["LISTEN_FDS": "1", "LISTEN_FDNAMES": "probe", "INFER_RUNTIME_DIR": directory.path],
            descriptors: [3: descriptor], exportOwnPid: ["LISTEN_PID"])
        let (status, lines) = probe.finish()
        #expect(status == .exited(78))
        let expected = kind == "pipe" ? "got a pipe" : "got a Unix datagram socket"
        #expect(lines.contains {
            $0.contains("socket \\\"probe\\\" (fd 3, passed by systemd): expected a listening Unix stream socket")
                && $0.contains(expected)
        }, "\(lines)")
    }

    @Test("binds its own socket under INFER_RUNTIME_DIR, creating the directory, when not activated")
    func fallbackBind() throws {
        let directory = try TemporaryDirectory()
        let runtime = directory.file("nested/run")
        // LISTEN_PID of another process: the variables are not for this one, so it binds its own.
        let probe = try ProbeRun(environment: [
            "INFER_RUNTIME_DIR": runtime, "LISTEN_FDS": "1", "LISTEN_PID": "1", "PROBE_REPLY": "fallback",
        ])
        #expect(TestSockets.request(runtime + "/probe.sock") == "fallback\n")
        var info = stat()
        #expect(stat(runtime, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o755)
        probe.child.signal(SIGTERM)
        let (status, lines) = probe.finish()
        #expect(status == .exited(0))
        let listener = parseLogLines(lines).compactMap { $0 }.first { $0["msg"] as? String == "probe listener" }
        #expect(listener?["activated"] as? Bool == false)
        #expect(listener?["nonblock"] as? Bool == true)
        #expect(listener?["cloexec"] as? Bool == true)
        // The socket it bound itself is removed at exit.
        #expect(!FileManager.default.fileExists(atPath: runtime + "/probe.sock"))
    }

    @Test("replaces a stale socket file left by a dead daemon")
    func staleSocket() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("probe.sock")
        close(TestSockets.bound(path)) // bound, then closed without unlink: stale
        #expect(FileManager.default.fileExists(atPath: path))
        let probe = try ProbeRun(environment: ["INFER_RUNTIME_DIR": directory.path])
        #expect(TestSockets.request(path) == "ok\n")
        probe.child.signal(SIGTERM)
        #expect(probe.finish().status == .exited(0))
    }

    @Test("refuses to replace a file that is not a socket, or a socket another process serves")
    func occupiedPath() throws {
        let directory = try TemporaryDirectory()
        _ = FileManager.default.createFile(atPath: directory.file("probe.sock"), contents: Data("keep".utf8))
        let (status, lines) = try ProbeRun(environment: ["INFER_RUNTIME_DIR": directory.path]).finish()
        #expect(status == .exited(78))
        #expect(lines.contains { $0.contains("exists and is not a socket") })
        #expect(FileManager.default.contents(atPath: directory.file("probe.sock")) == Data("keep".utf8))

        let busy = try TemporaryDirectory()
        let listener = TestSockets.bound(busy.file("probe.sock"))
        defer { close(listener) }
        let (busyStatus, busyLines) = try ProbeRun(environment: ["INFER_RUNTIME_DIR": busy.path]).finish()
        #expect(busyStatus == .exited(71))
        #expect(busyLines.contains { $0.contains("is in use") })
    }

    @Test("notifies READY=1, STATUS=, WATCHDOG=1 and STOPPING=1, and exits 0 after SIGTERM")
    func notifyAndWatchdog() throws {
        let directory = try TemporaryDirectory()
        let notifyPath = directory.file("notify.sock")
        let notify = TestSockets.bound(notifyPath, type: Int32(SOCK_DGRAM.rawValue))
        defer { close(notify) }
        let probe = try ProbeRun(
            environment: [
                "NOTIFY_SOCKET": notifyPath, "WATCHDOG_USEC": "200000", "INFER_RUNTIME_DIR": directory.path,
            ],
            exportOwnPid: ["WATCHDOG_PID"])

        let untilReady = TestSockets.receive(notify, timeout: .seconds(10)) { $0.contains { $0.contains("READY=1") } }
        #expect(untilReady.contains("STATUS=loading"))
        #expect(untilReady.contains("READY=1\nSTATUS=serving"))
        // Pings every 100 ms (half of WATCHDOG_USEC); allow for a loaded machine.
        let afterReady = TestSockets.receive(notify, timeout: .seconds(5)) { $0.filter { $0 == "WATCHDOG=1" }.count >= 3 }
        #expect(afterReady.filter { $0 == "WATCHDOG=1" }.count >= 3)

        probe.child.signal(SIGTERM)
        let stopping = TestSockets.receive(notify, timeout: .seconds(10)) { $0.contains { $0.hasPrefix("STOPPING=1") } }
        #expect(stopping.contains("STOPPING=1\nSTATUS=draining"))
        let (status, lines) = probe.finish()
        #expect(status == .exited(0))
        #expect(lines.contains { $0.contains("\"msg\":\"watchdog enabled\"") && $0.contains("\"ping_interval_ms\":100") })
    }

    @Test("stops the watchdog pings when the service says it is not healthy")
    func unhealthyStopsWatchdog() throws {
        let directory = try TemporaryDirectory()
        let notifyPath = directory.file("notify.sock")
        let notify = TestSockets.bound(notifyPath, type: Int32(SOCK_DGRAM.rawValue))
        defer { close(notify) }
        let probe = try ProbeRun(
            environment: [
                "NOTIFY_SOCKET": notifyPath, "WATCHDOG_USEC": "200000", "INFER_RUNTIME_DIR": directory.path,
                "PROBE_HEALTHY": "no",
            ],
            exportOwnPid: ["WATCHDOG_PID"])
        let untilReady = TestSockets.receive(notify, timeout: .seconds(10)) { $0.contains { $0.contains("READY=1") } }
        #expect(untilReady.contains { $0.hasPrefix("READY=1") })
        // A tick that decided to ping just before the probe was set may still land right after READY=1.
        _ = TestSockets.receive(notify, timeout: .milliseconds(250))
        let afterReady = TestSockets.receive(notify, timeout: .milliseconds(700))
        #expect(!afterReady.contains("WATCHDOG=1"), "\(afterReady)")
        probe.child.signal(SIGTERM)
        #expect(probe.finish().status == .exited(0))
    }

    @Test("sends nothing and runs normally without NOTIFY_SOCKET; no watchdog for another WATCHDOG_PID")
    func noNotifySocket() throws {
        let directory = try TemporaryDirectory()
        let probe = try ProbeRun(environment: [
            "INFER_RUNTIME_DIR": directory.path, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1",
        ])
        #expect(TestSockets.request(directory.file("probe.sock")) == "ok\n")
        probe.child.signal(SIGTERM)
        let (status, lines) = probe.finish()
        #expect(status == .exited(0))
        #expect(!lines.contains { $0.contains("watchdog enabled") })
    }

    @Test("a bad environment value exits 78 naming the variable", arguments: [
        ("PROBE_MAX_CONNECTIONS", "abc", "PROBE_MAX_CONNECTIONS=abc: expected an integer between 1 and 1000"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL=loud: expected one of debug, info, warn, error"),
        ("DRAIN_TIMEOUT_SEC", "-1", "DRAIN_TIMEOUT_SEC=-1: expected a duration in seconds"),
        ("INFER_RUNTIME_DIR", "relative/dir", "INFER_RUNTIME_DIR=relative/dir: expected an absolute path"),
    ])
    func badEnvironment(variable: String, value: String, message: String) throws {
        let (status, lines) = try ProbeRun(environment: [variable: value]).finish()
        #expect(status == .exited(78))
        #expect(lines.contains { $0.contains(message) }, "\(lines)")
        #expect(parseLogLines(lines).allSatisfy { $0 != nil })
    }

    @Test("the drain deadline (DRAIN_TIMEOUT_SEC) ends a drain that takes too long, with status 0")
    func drainDeadline() throws {
        let directory = try TemporaryDirectory()
        let notify = TestSockets.bound(directory.file("notify.sock"), type: Int32(SOCK_DGRAM.rawValue))
        defer { close(notify) }
        let probe = try ProbeRun(environment: [
            "INFER_RUNTIME_DIR": directory.path, "PROBE_DRAIN_MS": "20000", "DRAIN_TIMEOUT_SEC": "300ms",
            "NOTIFY_SOCKET": directory.file("notify.sock"),
        ])
        // A signal before READY=1 exits at once; this test is about the drain after it.
        _ = TestSockets.receive(notify, timeout: .seconds(10)) { $0.contains { $0.hasPrefix("READY=1") } }
        let signalled = ContinuousClock.now
        probe.child.signal(SIGTERM)
        let (status, lines) = probe.finish()
        #expect(status == .exited(0))
        #expect(ContinuousClock.now - signalled < .seconds(5))
        #expect(lines.contains { $0.contains("drain deadline passed") })
    }

    @Test("a second signal during the drain exits at once with 128 + signal")
    func secondSignal() throws {
        let directory = try TemporaryDirectory()
        let notify = TestSockets.bound(directory.file("notify.sock"), type: Int32(SOCK_DGRAM.rawValue))
        defer { close(notify) }
        let probe = try ProbeRun(environment: [
            "INFER_RUNTIME_DIR": directory.path, "PROBE_DRAIN_MS": "20000",
            "NOTIFY_SOCKET": directory.file("notify.sock"),
        ])
        _ = TestSockets.receive(notify, timeout: .seconds(10)) { $0.contains { $0.hasPrefix("READY=1") } }
        probe.child.signal(SIGTERM)
        usleep(300_000)
        probe.child.signal(SIGINT)
        let (status, lines) = probe.finish(timeout: .seconds(5))
        #expect(status == .exited(128 + SIGINT))
        #expect(lines.contains { $0.contains("second signal") })
    }

    @Test("SIGTERM while start is still running (a model loading) exits 0 without READY=1")
    func signalDuringStart() throws {
        let directory = try TemporaryDirectory()
        let notifyPath = directory.file("notify.sock")
        let notify = TestSockets.bound(notifyPath, type: Int32(SOCK_DGRAM.rawValue))
        defer { close(notify) }
        let probe = try ProbeRun(environment: [
            "INFER_RUNTIME_DIR": directory.path, "PROBE_START_MS": "20000", "NOTIFY_SOCKET": notifyPath,
        ])
        let loading = TestSockets.receive(notify, timeout: .seconds(10)) { $0.contains("STATUS=loading") }
        #expect(loading.contains("STATUS=loading"))
        probe.child.signal(SIGTERM)
        let (status, _) = probe.finish(timeout: .seconds(5))
        #expect(status == .exited(0))
        let rest = TestSockets.receive(notify, timeout: .milliseconds(200))
        #expect(rest.contains("STOPPING=1"))
        #expect(!rest.contains { $0.hasPrefix("READY=1") })
    }

    @Test("--help prints the settings table; --check-config validates")
    func helpAndCheck() throws {
        let directory = try TemporaryDirectory()
        let pipe = try ProcessSpawner.makePipe()
        let child = try ProcessSpawner.spawn(
            ProbeRun.executable, arguments: ["--help"], environment: [:], standardOutput: .descriptor(pipe.write))
        close(pipe.write)
        #expect(child.wait(timeout: .seconds(10)) == .exited(0))
        let text = String(decoding: readToEnd(pipe.read), as: UTF8.self)
        close(pipe.read)
        #expect(text.contains("PROBE_MAX_CONNECTIONS"))
        #expect(text.contains("DRAIN_TIMEOUT_SEC"))
        #expect(text.contains("Connections served before refusing more."))

        let good = try ProbeRun(environment: ["INFER_RUNTIME_DIR": directory.path], arguments: ["--check-config"])
        #expect(good.finish().status == .exited(0))
        let bad = try ProbeRun(environment: ["PROBE_HEALTHY": "maybe"], arguments: ["--check-config"])
        let (status, lines) = bad.finish()
        #expect(status == .exited(78))
        #expect(lines.contains { $0.contains("PROBE_HEALTHY=maybe: expected a boolean") })
        // --check-config binds nothing.
        #expect(!FileManager.default.fileExists(atPath: directory.file("probe.sock")))
    }
}
