import Foundation

/// The repository's root, the folder holding Package.swift, found from this file's path: tests read
/// docs/, config/, systemd/, scripts/ and tests-python/ from there.
public let packageRoot: String = {
    var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while directory.path != "/" {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            return directory.path
        }
        directory = directory.deletingLastPathComponent()
    }
    // Tests/TestKit/ is two folders below the root: what this says when the tree was moved after the build.
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
}()
