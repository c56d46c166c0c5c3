import APIKeys
import Foundation
import Registry

/// `inferctl config check`: the environment file(s), the model registry and the API keys file validated
/// together, as the daemons will read them: each file parsed, then every daemon's own settings check
/// (`DAEMON --check-config`, one modeld per deployment) run with that environment. Each problem names its
/// file and line, or its entry and field, or its variable. Exits 0 when all hold, 78 otherwise.
enum ConfigCheckCommand {
    /// One check and its outcome.
    struct Check {
        let subject: String
        let problem: String?
    }

    static func run(_ options: ConfigOptions, environment: [String: String], executableDirectory: String) -> Int32 {
        let checks = checks(options, environment: environment, executableDirectory: executableDirectory)
        if options.json {
            let list = checks.map { ["subject": $0.subject, "ok": $0.problem == nil, "problem": $0.problem ?? NSNull()] as [String: Any] }
            let data = (try? JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .sortedKeys])) ?? Data()
            FileHandle.standardOutput.write(data)
            print()
        } else {
            for check in checks {
                print((check.problem == nil ? "ok    " : "FAIL  ") + check.subject + (check.problem.map { "\n      " + $0 } ?? ""))
            }
            let failed = checks.count { $0.problem != nil }
            print(failed == 0 ? "configuration ok (\(checks.count) checks)" : "\(failed) of \(checks.count) checks failed")
        }
        return checks.allSatisfy { $0.problem == nil } ? InferctlExit.success : InferctlExit.configuration
    }

    /// Every check, in the order a reader fixes them: files first, then each daemon's settings.
    static func checks(_ options: ConfigOptions, environment: [String: String], executableDirectory: String) -> [Check] {
        var results: [Check] = []
        var merged = environment
        let envFiles = options.files.environmentFiles.isEmpty && FileManager.default.fileExists(atPath: "/etc/infer/infer.env")
            ? ["/etc/infer/infer.env"] : options.files.environmentFiles
        for file in envFiles {
            do {
                for (name, value) in try EnvironmentFile.load(path: file) { merged[name] = value }
                results.append(Check(subject: "environment file \(file)", problem: nil))
            } catch {
                results.append(Check(subject: "environment file \(file)", problem: error.description))
            }
        }
        if let registry = options.files.registry { merged["INFER_MODEL_REGISTRY"] = registry }
        if let keys = options.files.keysFile { merged["API_KEYS_FILE"] = keys }
        let registryPath = merged["INFER_MODEL_REGISTRY"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/infer/models.json"
        var deployments: [String] = []
        do {
            let registry = try ModelRegistry.load(path: registryPath, environment: merged)
            deployments = registry.deployments.map(\.name)
            results.append(Check(subject: "model registry \(registryPath) (\(registry.names.count) models, \(deployments.count) deployments)", problem: nil))
        } catch {
            results.append(Check(subject: "model registry \(registryPath)", problem: error.description))
        }
        let keysPath = merged["API_KEYS_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/infer/keys.json"
        if merged["AUTH_DISABLED"]?.lowercased() == "true" {
            results.append(Check(subject: "API keys file: not read (AUTH_DISABLED=true)", problem: nil))
        } else {
            do {
                let file = try APIKeyFile.load(path: keysPath)
                results.append(Check(subject: "API keys file \(keysPath) (\(file.keys.count) keys)", problem: nil))
            } catch {
                results.append(Check(subject: "API keys file \(keysPath)", problem: error.description))
            }
        }
        let binDirectory = options.files.binDirectory ?? executableDirectory
        var daemons: [(label: String, executable: String, extra: [String: String])] =
            ["metricsd", "limitd", "cached", "batchd", "frontd"].map { ($0, $0, [:]) }
        daemons += deployments.map { ("modeld@\($0)", "modeld", ["INFER_MODEL": $0]) }
        for daemon in daemons {
            let path = binDirectory + "/" + daemon.executable
            guard FileManager.default.isExecutableFile(atPath: path) else {
                results.append(Check(subject: "\(daemon.label) settings", problem: "\(path) is not an executable (--bin-dir)"))
                continue
            }
            let (status, output) = runCheck(path, environment: merged.merging(daemon.extra) { $1 })
            results.append(Check(subject: "\(daemon.label) settings", problem: status == 0 ? nil : output.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return results
    }

    /// Runs `DAEMON --check-config`; its exit status and what it wrote.
    private static func runCheck(_ path: String, environment: [String: String]) -> (Int32, String) {
        do {
            return try CapturedRun.run(path, ["--check-config"], environment: environment, includeErrors: true)
        } catch {
            return (-1, "cannot run \(path): \(error)")
        }
    }
}
