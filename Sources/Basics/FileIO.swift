import Glibc

/// A file operation that failed: which one, on which path, and errno.
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What failed, as a description says it after "cannot": `write`, `fsync`, `rename ... over`, `read`.
    public let operation: String
    /// The file (or directory) it failed on.
    public let path: String
    /// The `errno` value.
    public let code: Int32

    /// An error of `operation` on `path`.
    /// - Parameters:
    ///   - operation: What failed (`write`, `fsync`).
    ///   - path: The file or directory.
    ///   - code: The `errno` value; by default the current one.
    public init(_ operation: String, _ path: String, code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    /// `cannot operation path: reason (errno N)`, e.g. `cannot fsync /var/lib/infer/x.tmp: Input/output error (errno 5)`.
    public var description: String { "cannot \(operation) \(path): \(errorText(code))" }
}

/// The loops and steps every file a daemon keeps needs, written once: all of a buffer written (short
/// writes and EINTR retried), all of a file read, directories made and fsync'd, and a file replaced
/// atomically (frontd's journal, limitd's state, cached's snapshot, the API keys file).
public enum FileIO {
    /// Writes every byte of `bytes` to `descriptor`, retrying short writes and EINTR.
    /// - Parameters:
    ///   - descriptor: An open file.
    ///   - bytes: What to write.
    ///   - path: The file's path, for the error.
    /// - Throws: ``FileError`` (`write`) with the failing write's errno (EIO when a write wrote nothing).
    public static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(FileError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress.map { $0 + offset }, bytes.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw FileError("write", path, code: n == 0 ? EIO : errno) }
            offset += n
        }
    }

    /// Reads `descriptor` to its end, retrying EINTR.
    /// - Parameters:
    ///   - descriptor: An open file.
    ///   - path: The file's path, for the error.
    ///   - limit: Reading stops once more than this many bytes are in, so a caller with a bound can tell
    ///     a file that is too large (`count > limit`) without reading all of it.
    /// - Returns: The bytes read.
    /// - Throws: ``FileError`` (`read`).
    public static func readAll(_ descriptor: Int32, path: String, limit: Int = .max) throws(FileError) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count <= limit {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileError("read", path) }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }

    /// fsyncs a directory, so that a file created, renamed or removed in it survives a power loss.
    /// - Throws: ``FileError`` (`open` or `fsync`).
    public static func syncDirectory(_ directory: String) throws(FileError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError("open", directory) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw FileError("fsync", directory) }
    }

    /// The directory a path is in (`.` for a bare name, `/` for a file at the root).
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    /// `mkdir -p`: creates `directory` and its missing parents, each with exactly `mode` (whatever the
    /// umask); with `durable`, each parent that gained an entry is fsync'd, so the new directories survive
    /// a power loss (state directories; a runtime directory on tmpfs need not).
    /// - Throws: ``FileError``: `use as a directory` (a path that exists is not one: ENOTDIR), `create the
    ///   directory`, or a parent's `open` or `fsync`.
    public static func makeDirectories(_ directory: String, mode: mode_t = 0o700, durable: Bool = true) throws(FileError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw FileError("use as a directory", directory, code: ENOTDIR) }
            return
        }
        guard errno == ENOENT else { throw FileError("use as a directory", directory) }
        let parent = parentDirectory(of: directory)
        if parent != directory { try makeDirectories(parent, mode: mode, durable: durable) }
        if mkdir(directory, mode) == 0 {
            chmod(directory, mode)
        } else if errno != EEXIST {
            throw FileError("create the directory", directory)
        }
        if durable { try syncDirectory(parent) }
    }

    /// Replaces `path` atomically: `temporary` (beside it) is created mode 0600, filled by `write`,
    /// fsync'd and renamed over `path`, and the directory is fsync'd, so a crash at any moment leaves
    /// the old file or the new one, never half of one. On a failure the temporary file is removed and
    /// `path` is untouched (unless only the directory's fsync failed: the new file is then in place).
    /// - Parameters:
    ///   - path: The file to replace (or create).
    ///   - temporary: Where the new file is written first; in the same directory as `path`.
    ///   - write: Writes the new contents to the open descriptor (with ``writeAll(_:_:path:)``).
    /// - Throws: ``FileError``: `create`, `write`, `fsync`, `rename ... over` or the directory's `fsync`.
    public static func replace(_ path: String, temporary: String,
                               write: (Int32) throws(FileError) -> Void) throws(FileError) {
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileError("create", temporary) }
        do throws(FileError) {
            do {
                defer { close(descriptor) }
                try write(descriptor)
                guard fsync(descriptor) == 0 else { throw FileError("fsync", temporary) }
            }
            guard rename(temporary, path) == 0 else { throw FileError("rename \(temporary) over", path) }
        } catch {
            unlink(temporary)
            throw error
        }
        try syncDirectory(parentDirectory(of: path))
    }

    /// Replaces `path` atomically with `bytes`; see ``replace(_:temporary:write:)``.
    public static func replace(_ path: String, temporary: String, with bytes: [UInt8]) throws(FileError) {
        try replace(path, temporary: temporary) { (descriptor) throws(FileError) in
            try writeAll(descriptor, bytes, path: temporary)
        }
    }
}
