import APIKeys
import Crypto
import Foundation
import Glibc
import IPC
import Spawn

/// A fresh short directory under /tmp (Unix socket paths must fit 108 bytes), removed at deinit.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/ictl-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw HarnessError("mkdtemp failed") }
        path = String(cString: made)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// The build directory: where `swift build` put the test bundle, inferctl and daemon-standin.
let buildDirectory: String = {
    let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return (testBinary as NSString).deletingLastPathComponent
}()

/// An API key a test stack gets, made with the built `inferctl keys create`.
struct HarnessKey {
    var name: String
    var scopes: String
    /// Requests per minute (0: limitd's default).
    var rpm: Int = 0
    /// A fixed key for tests whose requests are built before the stack starts (byte tables); nil makes
    /// a random one with `inferctl keys create`.
    var secret: String? = nil

    /// A key whose secret is `secret` itself (also its name), with every scope and no rate limit in the way.
    static func fixed(_ secret: String) -> HarnessKey {
        HarnessKey(name: secret, scopes: "infer,embed,admin", rpm: Int(APIKeyEntry.maxRequestsPerMinute), secret: secret)
    }

    /// What the real-daemon tests use: three ordinary keys, and one that rate limits never stop.
    static let standard = [
        HarnessKey(name: "alpha", scopes: "infer,embed"), HarnessKey(name: "beta", scopes: "infer,embed"),
        HarnessKey(name: "gamma", scopes: "infer,embed"), HarnessKey(name: "unlimited", scopes: "infer,embed,admin", rpm: 1_000_000),
    ]
}

/// Whether `promtool check metrics` (Debian's prometheus package) accepts `text` as Prometheus exposition.
func promtoolAccepts(_ text: String) throws -> Bool {
    let check = Process()
    check.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
    check.arguments = ["check", "metrics"]
    let input = Pipe()
    check.standardInput = input
    check.standardOutput = FileHandle.nullDevice
    check.standardError = FileHandle.nullDevice
    try check.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    check.waitUntilExit()
    return check.terminationStatus == 0
}

/// Runs the built inferctl with `arguments` and `environment`, waiting for it to exit.
/// - Returns: Its exit status, stdout and stderr.
func runInferctl(_ arguments: [String], environment: [String: String] = ["PATH": "/usr/bin:/bin"]) throws -> (status: Int32, stdout: String, stderr: String) {
    let scratch = try TemporaryDirectory()
    let outPath = scratch.path + "/out", errPath = scratch.path + "/err"
    let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let child: ChildProcess
    do {
        defer {
            close(out)
            close(err)
        }
        child = try ProcessSpawner.spawn(buildDirectory + "/inferctl", arguments: arguments, environment: environment,
                                         standardOutput: .descriptor(out), standardError: .descriptor(err))
    }
    guard case .exited(let status)? = child.wait(timeout: .seconds(30)) else {
        child.signal(SIGKILL)
        throw HarnessError("inferctl \(arguments.joined(separator: " ")) did not exit")
    }
    return (status, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// `inferctl up` running a stack of stand-ins (symlinks named like the daemons to daemon-standin) in a
/// temporary directory, with its stdout and stderr in files.
final class StackRun {
    let directory: TemporaryDirectory
    let runtimeDirectory: String
    /// The API keys file frontd reads (`--keys-file`).
    let keysFile: String
    /// The secret of each key made for the run, by name.
    private(set) var keys: [String: String] = [:]
    let child: ChildProcess
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
    ///   - modelsDirectory: `INFER_MODELS_DIR` for real daemons (default: the repository's models folder).
    init(
        models: [(String, String)] = [("alpha", "chat"), ("beta", "embedding")], arguments: [String] = [],
        environmentFile: [String]? = nil, realDaemons: Bool = false, apiKeys: [HarnessKey]? = nil,
        prices: [String: (input: Double, output: Double)] = [:], modelsDirectory: String? = nil
    ) throws {
        directory = try TemporaryDirectory()
        let root = directory.path
        runtimeDirectory = root + "/run"
        keysFile = root + "/keys.json"
        for key in apiKeys ?? (realDaemons ? HarnessKey.standard : []) {
            if let secret = key.secret {
                var file = FileManager.default.fileExists(atPath: keysFile) ? try APIKeyFile.load(path: keysFile) : APIKeyFile()
                let scopes = Set(key.scopes.split(separator: ",").compactMap { APIKeyScope(rawValue: String($0)) })
                file.keys.append(APIKeyEntry(name: key.name, id: "key_" + key.name, digest: SHA256.hash(Array(secret.utf8)),
                                             scopes: scopes, requestsPerMinute: UInt32(key.rpm)))
                try file.write(to: keysFile)
                keys[key.name] = secret
                continue
            }
            let made = try runInferctl(["keys", "create", key.name, "--scopes", key.scopes, "--rpm", String(key.rpm), "--file", keysFile])
            guard made.status == 0 else { throw HarnessError("inferctl keys create \(key.name): \(made.stderr)") }
            keys[key.name] = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let bin = root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for daemon in ["frontd", "limitd", "cached", "batchd", "modeld", "metricsd"] {
            // The real daemons, or the stand-in playing each of them.
            try FileManager.default.createSymbolicLink(
                atPath: bin + "/" + daemon, withDestinationPath: buildDirectory + "/" + (realDaemons ? daemon : "daemon-standin"))
        }
        let entries = models.map { name, kind in
            let path = realDaemons ? (kind == "chat" ? "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" : "minilm") : name
            let price = prices[name] ?? (0, 0)
            return #"{"name": "\#(name)", "kind": "\#(kind)", "engine": "builtin", "path": "\#(path)", "price_input_per_1m": \#(price.input), "price_output_per_1m": \#(price.output)}"#
        }
        try Data("{\"models\": [\(entries.joined(separator: ","))]}".utf8).write(to: URL(fileURLWithPath: root + "/models.json"))
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
        child = try ProcessSpawner.spawn(
            buildDirectory + "/inferctl", arguments: flags + arguments,
            environment: ["PATH": "/usr/bin:/bin", "BIND_ADDRESS": "127.0.0.1", "LOG_LEVEL": "info",
                          "INFER_MODELS_DIR": realDaemons ? try modelsDirectory ?? InferctlTests.modelsDirectory() : ""],
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
    func key(_ name: String) throws -> String {
        guard let secret = keys[name] else { throw HarnessError("no API key named \(name) in this run") }
        return secret
    }

    /// The state file, or nil while there is none.
    func state() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: runtimeDirectory + "/inferctl.json"),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        for daemon in object["daemons"] as? [[String: Any]] ?? [] {
            if let pid = daemon["pid"] as? Int { seenPIDs.insert(Int32(pid)) }
        }
        return object
    }

    /// One daemon's entry of the state file.
    func daemon(_ unit: String) -> [String: Any]? {
        (state()?["daemons"] as? [[String: Any]])?.first { $0["unit"] as? String == unit }
    }

    /// The pid of a daemon's current process.
    func pid(_ unit: String) -> Int32? {
        (daemon(unit)?["pid"] as? Int).map(Int32.init)
    }

    /// Every daemon's current pid, by unit.
    func pids() -> [String: Int32] {
        var result: [String: Int32] = [:]
        for daemon in state()?["daemons"] as? [[String: Any]] ?? [] {
            if let unit = daemon["unit"] as? String, let pid = daemon["pid"] as? Int { result[unit] = Int32(pid) }
        }
        return result
    }

    /// The port of a TCP socket (`http`, `metrics-http`) from the state file.
    func port(_ socketName: String) -> Int? {
        for daemon in state()?["daemons"] as? [[String: Any]] ?? [] {
            for socket in daemon["sockets"] as? [String] ?? [] where socket.hasPrefix(socketName + "=") {
                return socket.split(separator: ":").last.flatMap { Int($0) }
            }
        }
        return nil
    }

    /// Every JSON line written on stderr so far (inferctl's and the daemons').
    func logLines() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// Lines of inferctl's own log with this message (and unit, when given).
    func events(_ message: String, unit: String? = nil) -> [[String: Any]] {
        logLines().filter { line in
            line["daemon"] as? String == "inferctl" && line["msg"] as? String == message
                && (unit == nil || line["unit"] as? String == unit)
        }
    }

    var standardOutput: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes.
    @discardableResult
    func wait(_ timeout: Duration, until condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            if child.exitStatus != nil { return condition() }
            usleep(20_000)
        }
        return condition()
    }

    /// Whether every daemon is ready (the banner was printed).
    var isReady: Bool { state()?["ready"] as? Bool == true }

    /// Sends a signal to inferctl and waits for it to exit.
    /// - Returns: Its exit status, or nil when it did not exit within `timeout` or was killed.
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(40)) -> Int32? {
        child.signal(signal)
        return exitCode(timeout: timeout)
    }

    /// inferctl's exit status once it exits within `timeout`; nil otherwise or when a signal ended it.
    func exitCode(timeout: Duration) -> Int32? {
        guard let status = child.wait(timeout: timeout) else { return nil }
        if case .exited(let code) = status { return code }
        return nil
    }
}

/// Connects to a Unix socket and reads until the peer closes: a stand-in writes one line.
/// - Returns: What was read, or nil when the connection failed or nothing came within `timeout`.
func askUnix(_ path: String, timeout: Duration = .seconds(5)) -> String? {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard connected == 0 else { return nil }
    return readAll(descriptor, timeout: timeout)
}

/// Sends a GET to 127.0.0.1:port and returns the response.
func askHTTP(port: Int, timeout: Duration = .seconds(5)) -> String? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port)).bigEndian
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET / HTTP/1.1\r\nHost: test\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    return readAll(descriptor, timeout: timeout)
}

private func readAll(_ descriptor: Int32, timeout: Duration) -> String? {
    let deadline = ContinuousClock.now + timeout
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1024)
    while true {
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return nil }
        var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(max(1, left / .milliseconds(1)))
        guard poll(&waiting, 1, milliseconds) > 0 else { return nil }
        let count = read(descriptor, &buffer, buffer.count)
        if count > 0 {
            bytes.append(contentsOf: buffer[0..<count])
        } else {
            return count == 0 && !bytes.isEmpty ? String(decoding: bytes, as: UTF8.self) : nil
        }
    }
}

/// Whether a process exists (a zombie counts).
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}

/// The wall-clock time of a log line's `ts`.
func timestamp(_ line: [String: Any]) -> Date? {
    guard let text = line["ts"] as? String else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)
}

/// The repository's models folder (`INFER_MODELS_DIR`, or `models/` above this file).
func modelsDirectory(file: StaticString = #filePath) throws -> String {
    if let env = ProcessInfo.processInfo.environment["INFER_MODELS_DIR"], !env.isEmpty { return env }
    var dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
    while dir.path != "/" {
        let candidate = dir.appendingPathComponent("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path
        if FileManager.default.fileExists(atPath: candidate) { return dir.appendingPathComponent("models").path }
        dir = dir.deletingLastPathComponent()
    }
    throw HarnessError("models not found; run scripts/fetch-models.sh or set INFER_MODELS_DIR")
}
