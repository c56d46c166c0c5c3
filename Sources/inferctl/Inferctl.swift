import Foundation

/// The command-line entry point, kept out of `main.swift` so tests can call it.
enum Inferctl {
    /// Runs one command.
    /// - Parameters:
    ///   - arguments: The arguments after the program's name.
    ///   - environment: inferctl's environment.
    /// - Returns: The exit status.
    static func main(arguments: [String], environment: [String: String]) -> Int32 {
        let command: InferctlCommand
        do {
            command = try InferctlCommand.parse(arguments)
        } catch {
            FileHandle.standardError.write(Data("inferctl: \(error.description)\nTry: inferctl --help\n".utf8))
            return error.exitStatus
        }
        switch command {
        case .help(let topic):
            print(HelpText.text(for: topic), terminator: "")
            return InferctlExit.success
        case .up(let options):
            return UpCommand.run(options, environment: environment)
        case .status(let options):
            return StatusCommand.run(options, environment: environment)
        case .keys(let options):
            return KeysCommand.run(options, environment: environment, currentDirectory: FileManager.default.currentDirectoryPath)
        case .health(let options):
            return HealthCommand.run(options, environment: environment)
        case .metrics(let options):
            return MetricsCommand.run(options, environment: environment)
        case .version(let options):
            return VersionCommand.run(options, environment: environment)
        case .config(let options):
            return ConfigCheckCommand.run(options, environment: environment, executableDirectory: UpCommand.ownDirectory())
        case .completion(let shell):
            return CompletionCommand.run(shell: shell)
        case .chat(let options):
            return ChatCommand.run(options, environment: environment)
        case .complete(let options):
            return CompleteCommand.run(options, environment: environment)
        case .embed(let options):
            return EmbedCommand.run(options, environment: environment)
        case .testAPI(let options):
            return TestAPICommand.run(options, environment: environment)
        case .bench(let options):
            return BenchCommand.run(options, environment: environment)
        }
    }
}
