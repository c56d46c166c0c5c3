import Basics
import Glibc

/// Reading and atomically replacing the keys file.
extension APIKeyFile {
    /// Reads and checks a keys file.
    /// - Parameter path: The file.
    /// - Returns: Its keys.
    /// - Throws: ``APIKeyFileError``: `.missing` when there is no such file, `.unreadable`, `.invalid`.
    public static func load(path: String) throws(APIKeyFileError) -> APIKeyFile {
        try decode(try readBytes(path), file: path)
    }

    /// Reads the file, or an empty set of keys when it does not exist yet, lets `change` edit the keys,
    /// checks them and writes the file back atomically; the directory is locked (`flock`) throughout, so
    /// two `inferctl keys` commands at once do not lose each other's change.
    /// - Parameters:
    ///   - path: The keys file.
    ///   - change: Edits the keys; what it throws is rethrown and nothing is written.
    /// - Returns: What `change` returns.
    public static func modify<Result>(
        path: String, _ change: (inout APIKeyFile) throws(APIKeyFileError) -> Result
    ) throws(APIKeyFileError) -> Result {
        let directory = FileIO.parentDirectory(of: path)
        let lock = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lock >= 0 else { throw APIKeyFileError(.unwritable, file: path, "cannot open its directory \(directory): \(errnoText())") }
        defer { close(lock) }
        guard flock(lock, LOCK_EX) == 0 else {
            throw APIKeyFileError(.unwritable, file: path, "cannot lock its directory \(directory): \(errnoText())")
        }
        var file: APIKeyFile
        do {
            file = try load(path: path)
        } catch where error.kind == .missing {
            file = APIKeyFile()
        }
        let result = try change(&file)
        try file.validate(file: path)
        try file.write(to: path)
        return result
    }

    /// Replaces the file atomically: a temporary file in the same directory, written and fsync'd, then
    /// renamed over the old one (and the directory fsync'd), so a reader sees the old file or the new one,
    /// never half of one.
    ///
    /// A new file is mode 0600. A replaced file keeps its owner and group, and its mode limited to 0640
    /// (owner read-write, group read at most), so a file an operator made `root:infer 0640` for the
    /// service user stays readable by frontd.
    /// - Parameter path: The keys file.
    /// - Throws: ``APIKeyFileError`` of kind `.unwritable`.
    public func write(to path: String) throws(APIKeyFileError) {
        let directory = FileIO.parentDirectory(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? "keys.json"
        var template = Array((directory + "/." + base + ".XXXXXX").utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else { throw APIKeyFileError(.unwritable, file: path, "cannot create a file in \(directory): \(Self.errnoText())") }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        do {
            defer { close(descriptor) }
            var mode: mode_t = 0o600
            var existing = stat()
            if stat(path, &existing) == 0 {
                mode = 0o600 | (existing.st_mode & 0o040)
                if existing.st_uid != geteuid() || existing.st_gid != getegid() {
                    guard fchown(descriptor, existing.st_uid, existing.st_gid) == 0 else {
                        throw APIKeyFileError(.unwritable, file: path, "cannot keep its owner and group (\(existing.st_uid):\(existing.st_gid)): \(Self.errnoText())")
                    }
                }
            }
            guard fchmod(descriptor, mode) == 0 else { throw APIKeyFileError(.unwritable, file: path, "chmod: \(Self.errnoText())") }
            do throws(FileError) {
                try FileIO.writeAll(descriptor, encoded(), path: temporary)
            } catch {
                throw APIKeyFileError(.unwritable, file: path, "write: \(Self.errnoText(error.code))")
            }
            guard fsync(descriptor) == 0 else { throw APIKeyFileError(.unwritable, file: path, "fsync: \(Self.errnoText())") }
        }
        guard rename(temporary, path) == 0 else {
            throw APIKeyFileError(.unwritable, file: path, "rename: \(Self.errnoText())")
        }
        renamed = true
        // The rename itself is durable only once the directory is; the file is written either way.
        try? FileIO.syncDirectory(directory)
    }

    /// The file's bytes, at most ``maxBytes``.
    static func readBytes(_ path: String) throws(APIKeyFileError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let missing = errno == ENOENT
            throw APIKeyFileError(missing ? .missing : .unreadable, file: path, errnoText())
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw APIKeyFileError(.unreadable, file: path, errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw APIKeyFileError(.unreadable, file: path, "not a regular file") }
        guard Int(info.st_size) <= maxBytes else {
            throw APIKeyFileError(.unreadable, file: path, "larger than \(maxBytes >> 20) MiB")
        }
        let bytes: [UInt8]
        do throws(FileError) {
            bytes = try FileIO.readAll(descriptor, path: path, limit: maxBytes)
        } catch {
            throw APIKeyFileError(.unreadable, file: path, errnoText(error.code))
        }
        guard bytes.count <= maxBytes else { throw APIKeyFileError(.unreadable, file: path, "larger than \(maxBytes >> 20) MiB") }
        return bytes
    }


    static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}
