import Foundation
import Glibc
import IPC
import Testing
import TestKit

@testable import inferctl
import Registry
import Spawn


/// A unit file as `section → [(key, value)]`, keys repeated as written.
private func readUnit(_ name: String) throws -> [String: [(String, String)]] {
    let text = try String(contentsOfFile: packageRoot + "/systemd/" + name, encoding: .utf8)
    var sections: [String: [(String, String)]] = [:]
    var current = ""
    for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
        if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
        if line.hasPrefix("[") {
            current = String(line.dropFirst().dropLast())
            continue
        }
        guard let equals = line.firstIndex(of: "=") else { continue }
        sections[current, default: []].append((String(line[..<equals]), String(line[line.index(after: equals)...])))
    }
    return sections
}

private func values(_ unit: [String: [(String, String)]], _ section: String, _ key: String) -> [String] {
    (unit[section] ?? []).filter { $0.0 == key }.map(\.1)
}

@Suite("systemd units")
struct SystemdUnitTests {
    /// (service, its sockets with FileDescriptorName and ListenStream, executable)
    static let contract: [(service: String, sockets: [(unit: String, name: String, listen: String)], executable: String)] = [
        ("infer-frontd.service", [
            ("infer-frontd.socket", "http", "8080"),
            ("infer-frontd-stats.socket", "frontd", "/run/infer/frontd.sock"),
        ], "frontd"),
        ("infer-limitd.service", [("infer-limitd.socket", "limitd", "/run/infer/limitd.sock")], "limitd"),
        ("infer-cached.service", [("infer-cached.socket", "cached", "/run/infer/cached.sock")], "cached"),
        ("infer-batchd.service", [("infer-batchd.socket", "batchd", "/run/infer/batchd.sock")], "batchd"),
        ("infer-metricsd.service", [
            ("infer-metricsd.socket", "metricsd", "/run/infer/metricsd.sock"),
            ("infer-metricsd-http.socket", "metrics-http", "9464"),
        ], "metricsd"),
        ("infer-modeld@.service", [("infer-modeld@.socket", "modeld", "/run/infer/modeld-%i.sock")], "modeld"),
    ]

    @Test("systemd-analyze verify passes every unit without a warning")
    func verify() throws {
        let pipe = try ProcessSpawner.makePipe()
        let child = try ProcessSpawner.spawn(
            "/bin/bash", arguments: [packageRoot + "/scripts/verify-units.sh"],
            environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            standardOutput: .descriptor(pipe.write), standardError: .descriptor(pipe.write))
        close(pipe.write)
        let output = readToEnd(pipe.read)
        close(pipe.read)
        let status = child.wait(timeout: .seconds(120))
        let text = String(decoding: output, as: UTF8.self)
        var succeeded = false
        if case .exited(0) = status { succeeded = true }
        #expect(succeeded, "scripts/verify-units.sh failed:\n\(text)")
        #expect(text.contains("no warnings"), "\(text)")
    }

    @Test("Every service follows the contract: notify, watchdog, restarts, its own sockets", arguments: contract.map(\.service))
    func service(name: String) throws {
        let entry = try #require(Self.contract.first { $0.service == name })
        let unit = try readUnit(name)
        #expect(values(unit, "Service", "Type") == ["notify"])
        #expect(values(unit, "Service", "NotifyAccess") == ["main"])
        #expect(values(unit, "Service", "WatchdogSec") == ["10s"])
        #expect(values(unit, "Service", "Restart") == ["on-failure"])
        #expect(values(unit, "Service", "RestartPreventExitStatus") == ["78"])
        #expect(values(unit, "Service", "RestartSec") == ["100ms"])
        #expect(values(unit, "Unit", "StartLimitIntervalSec") == ["0"])
        #expect(values(unit, "Service", "EnvironmentFile") == ["-/etc/infer/infer.env"])
        #expect(values(unit, "Service", "ExecStart") == ["/usr/lib/infer/\(entry.executable)"])
        #expect(values(unit, "Service", "User") == ["infer"])
        #expect(values(unit, "Service", "NoNewPrivileges") == ["yes"])
        #expect(values(unit, "Service", "ProtectSystem") == ["strict"])
        let sockets = entry.sockets.map { $0.unit.replacingOccurrences(of: "@.", with: "@%i.") }
        #expect(values(unit, "Unit", "Requires").joined(separator: " ").split(separator: " ").map(String.init) == sockets)
        let after = values(unit, "Unit", "After").joined(separator: " ").split(separator: " ").map(String.init)
        #expect(sockets.allSatisfy(after.contains))
        if entry.sockets.count > 1 {
            #expect(values(unit, "Service", "Sockets") == [sockets.joined(separator: " ")])
        }
        for socket in entry.sockets {
            let socketUnit = try readUnit(socket.unit)
            #expect(values(socketUnit, "Socket", "FileDescriptorName") == [socket.name])
            #expect(values(socketUnit, "Socket", "ListenStream") == [socket.listen])
            if socket.listen.hasPrefix("/") {
                #expect(values(socketUnit, "Socket", "SocketMode") == ["0660"])
            }
        }
    }

    @Test("What a local user outside the infer group is kept from: Unix sockets infer:infer 0660, state directories 0700, files made by a daemon 0600 (UMask=0077)",
          arguments: contract.map(\.service))
    func localUsersKeptOut(name: String) throws {
        let entry = try #require(Self.contract.first { $0.service == name })
        let unit = try readUnit(name)
        #expect(values(unit, "Service", "Group") == ["infer"])
        #expect(values(unit, "Service", "UMask") == ["0077"])
        if !values(unit, "Service", "StateDirectory").isEmpty {
            #expect(values(unit, "Service", "StateDirectoryMode") == ["0700"])
        }
        for socket in entry.sockets where socket.listen.hasPrefix("/") {
            let socketUnit = try readUnit(socket.unit)
            #expect(values(socketUnit, "Socket", "SocketUser") == ["infer"], "\(socket.unit)")
            #expect(values(socketUnit, "Socket", "SocketGroup") == ["infer"], "\(socket.unit)")
        }
    }

    @Test("modeld is one instance per model; frontd stops before the daemons it calls and reads /etc/infer/keys.json")
    func instancesAndOrder() throws {
        let modeld = try readUnit("infer-modeld@.service")
        #expect(values(modeld, "Service", "Environment").contains("INFER_MODEL=%i"))
        #expect(values(modeld, "Unit", "Before") == ["infer-batchd.service"])
        let frontd = try readUnit("infer-frontd.service")
        #expect(values(frontd, "Service", "Environment").contains("API_KEYS_FILE=/etc/infer/keys.json"))
        let after = values(frontd, "Unit", "After").joined(separator: " ")
        for daemon in ["limitd", "cached", "batchd"] {
            #expect(after.contains("infer-\(daemon).service"))
        }
    }

    @Test("infer.target wants every socket and service, with the shipped models' modeld instances")
    func target() throws {
        let target = try readUnit("infer.target")
        let wanted = Set(values(target, "Unit", "Wants").flatMap { $0.split(separator: " ").map(String.init) })
        let registry = try ModelRegistry.load(path: packageRoot + "/config/models.json", environment: [:])
        var expected: Set<String> = []
        for entry in Self.contract where !entry.service.contains("@") {
            expected.insert(entry.service)
            for socket in entry.sockets { expected.insert(socket.unit) }
        }
        for model in registry.names {
            expected.insert("infer-modeld@\(model).service")
            expected.insert("infer-modeld@\(model).socket")
        }
        #expect(wanted == expected)
    }

    @Test("The units' sockets are the ones inferctl up creates")
    func sameContractAsInferctl() throws {
        let plan = try StackPlan.make(
            runtimeDirectory: "/run/infer", binDirectory: "/usr/lib/infer", models: ["%i"], bindAddress: "0.0.0.0",
            port: 8080, metricsPort: 9464)
        for daemon in plan.daemons {
            let service = daemon.unit == "modeld@%i" ? "infer-modeld@.service" : "infer-\(daemon.unit).service"
            let entry = try #require(Self.contract.first { $0.service == service })
            #expect(daemon.executable == "/usr/lib/infer/\(entry.executable)")
            let planned = daemon.sockets.map { socket -> String in
                switch socket.endpoint {
                case .unix(let path): "\(socket.name) \(path)"
                case .tcp(_, let port): "\(socket.name) \(port)"
                }
            }
            #expect(planned == entry.sockets.map { "\($0.name) \($0.listen)" })
        }
    }
}
