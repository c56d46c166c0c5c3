import APIKeys
import Crypto
import Foundation
import Glibc
import Spawn
import TestModels

/// `inferctl up` running a stack in a temporary directory, with its stdout and stderr in files: the built
/// daemons (`realDaemons`, the whole-stack tests), or stand-ins (symlinks named like the daemons to the
/// daemon-standin fixture, for inferctl's own supervision tests). Everything it started is killed at deinit.
public final class StackRun {
    /// The run's directory: bin/ (the daemons' links), run/ (the runtime directory), models.json, keys.json.
    public let directory: TemporaryDirectory
    /// `--runtime-dir`: the sockets and inferctl.json (the state file).
    public let runtimeDirectory: String
    /// The API keys file frontd reads (`--keys-file`).
    public let keysFile: String
    /// The secret of each key made for the run, by name.
    public private(set) var keys: [String: String] = [:]
    /// inferctl itself.
    public let child: ChildProcess
    private let stdoutPath: String
    private let stderrPath: String
    /// Every daemon pid seen in the state file, killed at deinit if still alive.
    private var seenPIDs = Set<Int32>()

    /// Starts `inferctl up`.
    /// - Parameters:
    ///   - models: The registry's models (name, kind).
    ///   - arguments: Extra flags for `up`.
    ///   - environmentFile: Lines of an environment file passed with `--env-file`.
    ///   - realDaemons: The built daemons instead of stand-ins.
    ///   - apiKeys: Keys made in the run's keys file before it starts (``key(_:)`` gives their secrets);
    ///     by default ``HarnessKey/standard`` with real daemons, none with stand-ins.
    ///   - prices: USD per 1M input and output tokens of some models (the registry's prices; 0 otherwise).
    ///   - modelsDirectory: `INFER_MODELS_DIR` for real daemons (default: ``ModelPaths/directory()``).
    ///   - extraRegistryEntries: More entries of the registry, as JSON objects (an upstream deployment).
    ///   - launcher: A command that runs inferctl (appended with its arguments) in its own process, such as
    ///     ``MountNamespace/binding(_:over:)``; it must exec inferctl so that signals reach it.
    ///   - keysFrom: Another run whose keys file (and keys) this one uses instead of making its own: two
    ///     stacks, one keys file, as hosts behind a balancer share one.
    /// - Throws: ``HarnessError`` or `SpawnError` when the run cannot be set up or inferctl cannot start;
    ///   ``ModelNotFound`` when real daemons need models that are not on this machine.
    public init(
        models: [(String, String)] = [("alpha", "chat"), ("beta", "embedding")], arguments: [String] = [],
        environmentFile: [String]? = nil, realDaemons: Bool = false, apiKeys: [HarnessKey]? = nil,
        prices: [String: (input: Double, output: Double)] = [:], modelsDirectory: String? = nil,
        extraRegistryEntries: [String] = [], launcher: [String] = [], keysFrom: StackRun? = nil
    ) throws {
        directory = try TemporaryDirectory()
        let root = directory.path
        runtimeDirectory = root + "/run"
        keysFile = keysFrom?.keysFile ?? root + "/keys.json"
        keys = keysFrom?.keys ?? [:]
        for key in keysFrom == nil ? apiKeys ?? (realDaemons ? HarnessKey.standard : []) : [] {
            if let secret = key.secret {
                var file = FileManager.default.fileExists(atPath: keysFile) ? try APIKeyFile.load(path: keysFile) : APIKeyFile()
                let scopes = Set(key.scopes.split(separator: ",").compactMap { APIKeyScope(rawValue: String($0)) })
                file.keys.append(APIKeyEntry(name: key.name, id: "key_" + key.name, digest: SHA256.hash(Array(secret.utf8)),
                                             scopes: scopes, requestsPerMinute: UInt32(key.rpm)))
                try file.write(to: keysFile)
                keys[key.name] = secret
                continue
            }
            let made = try runInferctl(["keys", "create", key.name, "--scopes", key.scopes, "--rpm", String(key.rpm), "--file", keysFile] + key.flags)
            guard made.status == 0 else { throw HarnessError("inferctl keys create \(key.name): \(made.stderr)") }
            keys[key.name] = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let bin = root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for daemon in ["frontd", "limitd", "cached", "batchd", "modeld", "metricsd"] {
            // The real daemons, or the stand-in playing each of them.
            try FileManager.default.createSymbolicLink(
                atPath: bin + "/" + daemon, withDestinationPath: builtProduct(realDaemons ? daemon : "daemon-standin"))
        }
        let entries = models.map { name, kind in
            let path = realDaemons ? (kind == "chat" ? ModelPaths.smollm2Relative : ModelPaths.minilmRelative) : name
            let price = prices[name] ?? (0, 0)
            return #"{"name": "\#(name)", "kind": "\#(kind)", "engine": "builtin", "path": "\#(path)", "price_input_per_1m": \#(price.input), "price_output_per_1m": \#(price.output)}"#
        }
        try Data("{\"models\": [\((entries + extraRegistryEntries).joined(separator: ","))]}".utf8).write(to: URL(fileURLWithPath: root + "/models.json"))
        var flags = ["up", "--runtime-dir", runtimeDirectory, "--bin-dir", bin, "--registry", root + "/models.json",
                     "--port", "0", "--metrics-port", "0", "--keys-file", keysFile]
        if let environmentFile {
            try Data(environmentFile.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: root + "/test.env"))
            flags += ["--env-file", root + "/test.env"]
        }
        stdoutPath = root + "/stdout"
        stderrPath = root + "/stderr"
        let out = open(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let err = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer {
            close(out)
            close(err)
        }
        let command = launcher + [builtProduct("inferctl")] + flags + arguments
        child = try ProcessSpawner.spawn(
            command[0], arguments: Array(command.dropFirst()),
            environment: ["PATH": "/usr/bin:/bin", "BIND_ADDRESS": "127.0.0.1", "LOG_LEVEL": "info",
                          "INFER_MODELS_DIR": realDaemons ? try modelsDirectory ?? ModelPaths.directory() : ""],
            standardOutput: .descriptor(out), standardError: .descriptor(err))
    }

    deinit {
        if child.exitStatus == nil {
            child.signal(SIGKILL)
            _ = child.wait(timeout: .seconds(5))
        }
        _ = state()
        for pid in seenPIDs { kill(pid, SIGKILL) }
    }

    /// The secret of a key made for this run.
    public func key(_ name: String) throws -> String {
        guard let secret = keys[name] else { throw HarnessError("no API key named \(name) in this run") }
        return secret
    }

    /// The state file, or nil while there is none.
    public func state() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: runtimeDirectory + "/inferctl.json"),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        for daemon in object["daemons"] as? [[String: Any]] ?? [] {
            if let pid = daemon["pid"] as? Int { seenPIDs.insert(Int32(pid)) }
        }
        return object
    }

    /// One daemon's entry of the state file.
    public func daemon(_ unit: String) -> [String: Any]? {
        (state()?["daemons"] as? [[String: Any]])?.first { $0["unit"] as? String == unit }
    }

    /// The pid of a daemon's current process.
    public func pid(_ unit: String) -> Int32? {
        (daemon(unit)?["pid"] as? Int).map(Int32.init)
    }

    /// Every daemon's current pid, by unit.
    public func pids() -> [String: Int32] {
        var result: [String: Int32] = [:]
        for daemon in state()?["daemons"] as? [[String: Any]] ?? [] {
            if let unit = daemon["unit"] as? String, let pid = daemon["pid"] as? Int { result[unit] = Int32(pid) }
        }
        return result
    }

    /// The port of a TCP socket (`http`, `metrics-http`) from the state file.
    public func port(_ socketName: String) -> Int? {
        for daemon in state()?["daemons"] as? [[String: Any]] ?? [] {
            for socket in daemon["sockets"] as? [String] ?? [] where socket.hasPrefix(socketName + "=") {
                return socket.split(separator: ":").last.flatMap { Int($0) }
            }
        }
        return nil
    }

    /// Every JSON line written on stderr so far (inferctl's and the daemons').
    public func logLines() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// Lines of inferctl's own log with this message (and unit, when given).
    public func events(_ message: String, unit: String? = nil) -> [[String: Any]] {
        logLines().filter { line in
            line["daemon"] as? String == "inferctl" && line["msg"] as? String == message
                && (unit == nil || line["unit"] as? String == unit)
        }
    }

    /// What inferctl wrote on stdout so far (the banner).
    public var standardOutput: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// What inferctl and the daemons wrote on stderr so far (JSON log lines).
    public var standardError: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes.
    @discardableResult
    public func wait(_ timeout: Duration, until condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            if child.exitStatus != nil { return condition() }
            usleep(20_000)
        }
        return condition()
    }

    /// Whether every daemon is ready (the banner was printed).
    public var isReady: Bool { state()?["ready"] as? Bool == true }

    /// Sends a signal to inferctl and waits for it to exit.
    /// - Returns: Its exit status, or nil when it did not exit within `timeout` or was killed.
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(40)) -> Int32? {
        child.signal(signal)
        return exitCode(timeout: timeout)
    }

    /// inferctl's exit status once it exits within `timeout`; nil otherwise or when a signal ended it.
    public func exitCode(timeout: Duration) -> Int32? {
        guard let status = child.wait(timeout: timeout) else { return nil }
        if case .exited(let code) = status { return code }
        return nil
    }
}
