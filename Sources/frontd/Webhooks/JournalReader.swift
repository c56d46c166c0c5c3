import Basics
import Glibc

/// Reads the event journal back at start, and rewrites it with only what is still needed.
enum JournalReader {
    /// What the file holds.
    struct Contents {
        /// The well-formed records, in file order, each with its line (newline included).
        var records: [(record: JournalRecord, line: [UInt8])] = []
        /// Bytes up to and including the last newline: where the next append must start.
        var validLength = 0
        /// Bytes after the last newline: a line a crash tore while it was written (never acknowledged).
        var tornBytes = 0
        /// Complete lines that are not records (damaged), skipped.
        var badLines = 0
    }

    /// Reads every record of the journal at `path`; a file that does not exist is an empty journal.
    /// - Throws: `JournalError` when the file cannot be read or is not a regular file.
    static func read(path: String) throws(JournalError) -> Contents {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return Contents() }
            throw .system("cannot open the journal", path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system("cannot stat the journal", path) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw JournalError("the journal \(path) is not a regular file") }
        do throws(FileError) {
            return parse(try FileIO.readAll(fd, path: path))
        } catch {
            throw JournalError(error)
        }
    }

    /// Splits a journal's bytes into records.
    static func parse(_ bytes: [UInt8]) -> Contents {
        var contents = Contents()
        var start = 0
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = bytes[start..<newline]
            if !line.isEmpty {
                if let record = JournalRecord(line: line) {
                    contents.records.append((record, Array(bytes[start...newline])))
                } else {
                    contents.badLines += 1
                }
            }
            start = newline + 1
        }
        contents.validLength = start
        contents.tornBytes = bytes.count - start
        return contents
    }

    /// Replaces the journal with `lines`, atomically: a new file written and fsync'd beside it, renamed
    /// over it, and the directory fsync'd. A crash at any point leaves the old file or the new one.
    static func rewrite(path: String, lines: [[UInt8]]) throws(JournalError) {
        var bytes: [UInt8] = []
        for line in lines { bytes += line }
        do throws(FileError) {
            try FileIO.replace(path, temporary: path + ".tmp", with: bytes)
        } catch {
            throw JournalError(error)
        }
    }
}
