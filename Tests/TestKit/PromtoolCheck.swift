import Foundation

/// Runs `promtool check metrics` (Debian's prometheus package) on `text`, as Prometheus would judge a scrape.
/// - Returns: Whether promtool accepts the text as Prometheus exposition, and all it printed.
/// - Throws: ``HarnessError`` when promtool is not installed; what `Process` throws when it cannot run.
public func promtoolCheck(_ text: String) throws -> (accepted: Bool, output: String) {
    guard let tool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(where: {
        FileManager.default.isExecutableFile(atPath: $0)
    }) else {
        throw HarnessError("promtool not installed (make test installs Debian's prometheus package)")
    }
    let check = Process()
    check.executableURL = URL(fileURLWithPath: tool)
    check.arguments = ["check", "metrics"]
    let input = Pipe(), output = Pipe()
    check.standardInput = input
    check.standardOutput = output
    check.standardError = output
    try check.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    // promtool reads all its input before it says anything; read what it says before waiting, so a long
    // report cannot fill the pipe and stall it.
    let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    check.waitUntilExit()
    return (check.terminationStatus == 0, said)
}
