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
    // promtool reads all its input before it says anything, so the input is written whole first (a
    // scrape can pass a pipe's 64 KiB, so it goes through a file).
    let scratch = try TemporaryDirectory()
    defer { scratch.remove() }
    try Data(text.utf8).write(to: URL(fileURLWithPath: scratch.path + "/metrics"))
    let check = try runCapturing("/bin/sh", ["-c", #"exec "$0" check metrics < "$1""#, tool, scratch.path + "/metrics"],
                                 timeout: .seconds(60))
    return (check.status == 0, check.output)
}
