import CSystemd
import DaemonRuntime
import Foundation
import Glibc
@testable import IPC
import Settings
import Testing
import TestKit

/// Binding and validation in this process, for what the probe (one Unix socket) does not cover: the TCP
/// listeners of frontd and metricsd, and the errors for sockets of the wrong kind.
@Suite("Sockets")
struct SocketTests {
    @Test("binds TCP on IPv4 and IPv6 with a kernel-picked port, non-blocking and close-on-exec",
          arguments: ["127.0.0.1", "::1"])
    func tcpFallback(host: String) throws {
        let (descriptor, address) = try SocketBinder.bindTCP(host: host, port: 0)
        defer { close(descriptor) }
        let port = try #require(address.split(separator: ":").last.flatMap { Int($0) })
        #expect(port > 0)
        #expect(address == (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"))
        #expect(fcntl(descriptor, F_GETFL) & O_NONBLOCK != 0)
        #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC != 0)
        // What the runtime accepts from systemd for a TCP spec, it accepts from itself.
        try SocketActivation.validate(descriptor, for: .tcp("http", port: RuntimeSettings.port))
        #expect(throws: ListenerError.self) { try SocketActivation.validate(descriptor, for: .unix("http")) }
    }

    @Test("a port in use is an OS error (exit 71), not a configuration error")
    func portInUse() throws {
        let (first, address) = try SocketBinder.bindTCP(host: "127.0.0.1", port: 0)
        defer { close(first) }
        let port = try #require(address.split(separator: ":").last.flatMap { Int($0) })
        do {
            let (second, _) = try SocketBinder.bindTCP(host: "127.0.0.1", port: port)
            close(second)
            Issue.record("bound a port twice")
        } catch {
            #expect(!error.isConfiguration)
            #expect(error.description.hasPrefix("cannot bind 127.0.0.1:\(port): Address already in use"))
        }
    }

    @Test("a Unix socket path longer than sun_path is refused with its length")
    func longPath() {
        let directory = "/tmp/" + String(repeating: "d", count: 120)
        do {
            _ = try SocketBinder.bindUnix(directory: directory, fileName: "x.sock")
            Issue.record("bound an over-long path")
        } catch {
            #expect(error.isConfiguration)
            #expect(error.description.contains("the limit is 107"))
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test("describes what a wrong descriptor is")
    func describe() throws {
        let directory = try TemporaryDirectory()
        let datagram = TestSockets.bound(directory.file("d.sock"), type: Int32(SOCK_DGRAM.rawValue))
        defer { close(datagram) }
        #expect(SocketActivation.describe(datagram) == "a Unix datagram socket")
        let stream = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(stream) }
        #expect(SocketActivation.describe(stream) == "a Unix stream socket that is not listening")
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(udp) }
        #expect(SocketActivation.describe(udp) == "an IPv4 UDP socket")
        #expect(SocketActivation.describe(999) == "no open descriptor")
        let error = ListenerError.wrongKind(name: "http", descriptor: 3, expected: "a listening TCP socket", actual: "a pipe")
        #expect(error.isConfiguration)
        #expect(error.description.hasPrefix("socket \"http\" (fd 3, passed by systemd): expected a listening TCP socket, got a pipe"))
    }

    @Test("the table a daemon runs with: runtime settings, then its sockets', then its own, each name once")
    func completeTable() {
        let ownLevel = Setting<LogLevel>.logLevel(default: .debug)
        let rpm = Setting<Int>(name: "RATE_LIMIT_RPM", default: 60, meaning: "Rpm.", range: 1...100)
        let table = Daemon.completeTable(
            [rpm, ownLevel],
            sockets: [
                .unix("metricsd"), .tcp("metrics", port: RuntimeSettings.metricsPort),
                .tcp("http", port: RuntimeSettings.port),
            ])
        #expect(table.map(\.name) == ["ENABLE_STRUCTURED_LOGGING", "INFER_RUNTIME_DIR", "DRAIN_TIMEOUT_SEC"] + TracingSettings.all.map(\.name) + [
            "BIND_ADDRESS", "METRICS_PORT", "PORT", "RATE_LIMIT_RPM", "LOG_LEVEL",
        ])
        #expect(table.last?.defaultDescription == "debug")
    }

    @Test("without LISTEN_FDS there is nothing inherited")
    func notActivated() throws {
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_PID")
        #expect(try SocketActivation.listeners().isEmpty)
    }
}
