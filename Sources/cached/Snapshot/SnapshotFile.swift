import Basics
import Glibc

/// The snapshot on disk: `cache.snapshot` in cached's state directory, replaced atomically (a new file
/// written and fsync'd beside it, renamed over it, the directory fsync'd), so a crash at any moment leaves
/// the previous snapshot or the new one; and read back at start, dropped when it does not check out.
struct SnapshotFile: Sendable {
    /// Why a snapshot could not be written or read.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// What ``load(maxSize:)`` found.
    enum Loaded {
        /// No snapshot (a first start, or persistence was just turned on).
        case none
        /// The records of a file that checked out.
        case records(writtenAt: Int64, [SnapshotRecord], bytes: Int)
        /// A file that did not check out, now renamed to ``corruptPath`` so it is never read again.
        case dropped(reason: String)
    }

    static let fileName = "cache.snapshot"
    /// Bytes gathered before each write(2).
    private static let writeChunk = 1 << 20

    /// The state directory.
    let directory: String
    var path: String { directory + "/" + Self.fileName }
    var temporaryPath: String { path + ".tmp" }
    /// Where a file that did not check out is moved (replacing an older one), for an operator to look at.
    var corruptPath: String { path + ".corrupt" }

    /// Creates the directory if needed (one level, mode 0700; systemd's StateDirectory= makes it otherwise).
    /// - Throws: ``Failure`` when it cannot be created or written in.
    func prepare() throws(Failure) {
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else { throw failure("cannot create", directory) }
        guard access(directory, W_OK | X_OK) == 0 else { throw failure("cannot write in", directory) }
    }

    /// Writes `records` as the new snapshot.
    /// - Parameters:
    ///   - records: The entries, least recently used first.
    ///   - writtenAt: The wall-clock time (ns) the records were taken at.
    /// - Returns: The file's size in bytes.
    /// - Throws: ``Failure``; the previous snapshot is then untouched.
    @discardableResult
    func write(_ records: [SnapshotRecord], writtenAt: Int64) throws(Failure) -> Int {
        var written = 0
        do throws(FileError) {
            try FileIO.replace(path, temporary: temporaryPath) { (fd) throws(FileError) in
                var crc = CRC32C()
                var buffer = SnapshotCodec.header(writtenAt: writtenAt)
                buffer.reserveCapacity(Self.writeChunk * 2)
                func flush() throws(FileError) {
                    crc.update(buffer)
                    try FileIO.writeAll(fd, buffer, path: temporaryPath)
                    written += buffer.count
                    buffer.removeAll(keepingCapacity: true)
                }
                for record in records {
                    SnapshotCodec.append(record, to: &buffer)
                    if buffer.count >= Self.writeChunk { try flush() }
                }
                buffer.append(contentsOf: SnapshotCodec.trailerPrefix(records: UInt64(records.count)))
                try flush()
                buffer.appendLittleEndian(crc.value)
                try FileIO.writeAll(fd, buffer, path: temporaryPath)
                written += buffer.count
            }
        } catch {
            throw Failure(description: error.description)
        }
        return written
    }

    /// Reads the snapshot, if there is one, and checks it; a file that does not check out is renamed to
    /// ``corruptPath``.
    /// - Parameter maxSize: The largest file believable under the current bounds; a larger one is dropped
    ///   unread, so loading takes bounded time.
    /// - Returns: What was found.
    func load(maxSize: Int) -> Loaded {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return errno == ENOENT ? .none : drop("cannot open it: \(errorText(errno))")
        }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            close(fd)
            return drop("cannot stat it: \(errorText(errno))")
        }
        let size = Int(status.st_size)
        guard size <= maxSize else {
            close(fd)
            return drop("\(size) bytes, more than the \(maxSize) the current bounds allow")
        }
        let bytes: [UInt8]
        do throws(FileError) {
            defer { close(fd) }
            bytes = try FileIO.readAll(fd, path: path, limit: maxSize)
        } catch {
            return drop("cannot read it: \(errorText(error.code))")
        }
        guard bytes.count == size else { return drop("read \(bytes.count) of \(size) bytes") }
        do {
            let decoded = try SnapshotCodec.decode(bytes)
            return .records(writtenAt: decoded.writtenAt, decoded.records, bytes: size)
        } catch {
            return drop(error.description)
        }
    }

    private func drop(_ reason: String) -> Loaded {
        rename(path, corruptPath)
        return .dropped(reason: reason)
    }

    private func failure(_ what: String, _ path: String) -> Failure {
        Failure(description: "\(what) \(path): \(errorText(errno))")
    }
}
