import Foundation
import Glibc
import Testing

import Basics

/// The file steps frontd's journal, limitd's state, cached's snapshot and the keys file share.
@Suite struct FileIOTests {
    /// A fresh directory under /tmp, removed (with what the test left in it) by `cleanUp`.
    private static func scratch() throws -> String {
        var template = Array("/tmp/fileio-test-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw FileError("create", "/tmp/fileio-test-XXXXXX") }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func cleanUp(_ directory: String) {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func contents(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open", path) }
        defer { close(fd) }
        return try FileIO.readAll(fd, path: path)
    }

    private static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    @Test("replace writes the new file whole, leaves no temporary file, and reads back byte for byte")
    func replaceAndRead() throws {
        let directory = try Self.scratch()
        defer { Self.cleanUp(directory) }
        let path = directory + "/state"
        // Larger than one read buffer (64 KiB), so readAll loops.
        let first = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try FileIO.replace(path, temporary: path + ".tmp", with: first)
        #expect(try Self.contents(path) == first)
        try FileIO.replace(path, temporary: path + ".tmp", with: Array("second".utf8))
        #expect(try Self.contents(path) == Array("second".utf8))
        #expect(!Self.exists(path + ".tmp"))
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
    }

    @Test("a replacement that fails while writing leaves the old file as it was and removes the temporary one")
    func failedReplaceKeepsOld() throws {
        let directory = try Self.scratch()
        defer { Self.cleanUp(directory) }
        let path = directory + "/state"
        try FileIO.replace(path, temporary: path + ".tmp", with: Array("old".utf8))
        #expect(throws: FileError("write", path + ".tmp", code: ENOSPC)) {
            try FileIO.replace(path, temporary: path + ".tmp") { (descriptor) throws(FileError) in
                try FileIO.writeAll(descriptor, Array("half of the new".utf8), path: path + ".tmp")
                throw FileError("write", path + ".tmp", code: ENOSPC)
            }
        }
        #expect(try Self.contents(path) == Array("old".utf8))
        #expect(!Self.exists(path + ".tmp"))
    }

    @Test("readAll stops once past its limit, so a caller can tell a file that is too large")
    func readLimit() throws {
        let directory = try Self.scratch()
        defer { Self.cleanUp(directory) }
        let path = directory + "/big"
        try FileIO.replace(path, temporary: path + ".tmp", with: [UInt8](repeating: 7, count: 300_000))
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        let bytes = try FileIO.readAll(fd, path: path, limit: 100_000)
        #expect(bytes.count > 100_000 && bytes.count < 300_000)
    }

    @Test("makeDirectories creates every missing level with the mode asked for, and refuses a file in the way")
    func makeDirectories() throws {
        let directory = try Self.scratch()
        defer { Self.cleanUp(directory) }
        let nested = directory + "/a/b/c"
        let old = umask(0o077)
        defer { umask(old) }
        try FileIO.makeDirectories(nested, mode: 0o755)
        for level in [directory + "/a", directory + "/a/b", nested] {
            var info = stat()
            #expect(stat(level, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && info.st_mode & 0o777 == 0o755, "\(level)")
        }
        try FileIO.makeDirectories(nested)  // already there: nothing to do
        try FileIO.replace(directory + "/file", temporary: directory + "/file.tmp", with: [1])
        #expect(throws: FileError("use as a directory", directory + "/file", code: ENOTDIR)) {
            try FileIO.makeDirectories(directory + "/file")
        }
        #expect(throws: FileError("use as a directory", directory + "/file/below", code: ENOTDIR)) {
            try FileIO.makeDirectories(directory + "/file/below")
        }
    }

    @Test("the error reads as the project words a failed system call")
    func description() {
        #expect(FileError("fsync", "/x/y.tmp", code: EIO).description == "cannot fsync /x/y.tmp: Input/output error (errno 5)")
        #expect(FileIO.parentDirectory(of: "/a/b") == "/a" && FileIO.parentDirectory(of: "/a") == "/"
            && FileIO.parentDirectory(of: "a") == ".")
    }
}
