import Basics
import Dispatch
import Glibc
import Synchronization

/// Why the journal could not be opened, read or written.
struct JournalError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }

    /// "<what> <path>: <strerror(errno)>".
    static func system(_ what: String, _ path: String, _ code: Int32 = errno) -> JournalError {
        JournalError("\(what) \(path): \(String(cString: strerror(code)))")
    }

    /// A failed file operation, as it describes itself.
    init(_ error: FileError) {
        self.init(error.description)
    }
}

/// The append-only file of accepted webhook events and finished jobs (one JSON line each, see
/// `JournalRecord`). `append` returns only once the line is on disk: written and fsync'd (and the
/// directory fsync'd when the file was created), so an event is never acknowledged and then lost.
///
/// Appends that arrive while a write is in progress are written and fsync'd together (group commit):
/// one fsync for a burst of events. The I/O runs on a queue of its own, never on an HTTP loop.
///
/// After a failed write the file is cut back to its last durable length and the journal stays usable
/// (the disk may have been full). After a failed fsync it refuses every later append: what the kernel
/// kept of the file is unknown, so only a restart, which reads the file again, can be trusted.
final class EventJournal: Sendable {
    let path: String
    private let fd: Int32
    private let state: Mutex<State>
    private let queue = DispatchQueue(label: "infer.frontd.journal")

    private struct Waiter {
        let bytes: [UInt8]
        let done: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var pending: [Waiter] = []
        var flushing = false
        /// Bytes of the file known to be on disk.
        var committed: Int
        /// Why appends are refused, once an fsync failed.
        var broken: String?
    }

    private init(path: String, fd: Int32, size: Int) {
        self.path = path
        self.fd = fd
        state = Mutex(State(committed: size))
    }

    deinit {
        close(fd)
    }

    /// Opens the journal at `path` for appending, creating it (and its directory) if needed.
    /// - Parameters:
    ///   - validLength: Where the last complete line ends (from `JournalReader`); anything after it, a
    ///     line torn by a crash, is cut off first so the next line starts on a line of its own.
    static func open(path: String, validLength: Int? = nil) throws(JournalError) -> EventJournal {
        let directory = FileIO.parentDirectory(of: path)
        var fd: Int32
        do throws(FileError) {
            try FileIO.makeDirectories(directory)
            fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            if fd < 0, errno == ENOENT {
                fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                // The new file's directory entry must be durable too, or a crash could lose the whole file.
                if fd >= 0 { try FileIO.syncDirectory(directory) }
            }
        } catch {
            throw JournalError(error)
        }
        guard fd >= 0 else { throw .system("cannot open the journal", path) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let e = JournalError.system("cannot stat the journal", path)
            close(fd)
            throw e
        }
        var size = Int(info.st_size)
        if let validLength, size > validLength {
            guard ftruncate(fd, off_t(validLength)) == 0, fsync(fd) == 0 else {
                let e = JournalError.system("cannot cut the torn last line off the journal", path)
                close(fd)
                throw e
            }
            size = validLength
        }
        return EventJournal(path: path, fd: fd, size: size)
    }

    /// Appends one line (ending in a newline) and returns once it is on disk.
    /// - Throws: `JournalError` when it could not be written or synced; the line is then not in the file.
    func append(_ line: [UInt8]) async throws(JournalError) {
        do {
            try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
                let startFlushing = state.withLock { s -> Bool in
                    s.pending.append(Waiter(bytes: line, done: done))
                    guard !s.flushing else { return false }
                    s.flushing = true
                    return true
                }
                if startFlushing { queue.async { self.flush() } }
            }
        } catch let e as JournalError {
            throw e
        } catch {
            throw JournalError("\(error)")
        }
    }

    /// Bytes of the file known to be on disk.
    var committedLength: Int { state.withLock { $0.committed } }

    /// Writes and syncs everything pending, batch after batch, until nothing is left (on `queue`).
    private func flush() {
        while true {
            let next = state.withLock { s -> (batch: [Waiter], committed: Int, broken: String?)? in
                if s.pending.isEmpty {
                    s.flushing = false
                    return nil
                }
                defer { s.pending.removeAll(keepingCapacity: true) }
                return (s.pending, s.committed, s.broken)
            }
            guard let (batch, committed, broken) = next else { return }
            if let broken {
                for w in batch { w.done.resume(throwing: JournalError(broken)) }
                continue
            }
            var bytes: [UInt8] = []
            for w in batch { bytes += w.bytes }
            var failure: JournalError?
            var nowBroken: String?
            do throws(FileError) {
                try FileIO.writeAll(fd, bytes, path: path)
            } catch {
                let e = JournalError(error)
                failure = e
                // Take a partial line back out, so the next line does not follow half of this one.
                if ftruncate(fd, off_t(committed)) != 0 {
                    nowBroken = "the journal \(path) holds a partial line that could not be removed (\(e)); restart frontd"
                }
            }
            if failure == nil, fsync(fd) != 0 {
                let e = JournalError.system("cannot fsync the journal", path)
                failure = e
                _ = ftruncate(fd, off_t(committed))
                nowBroken = "an fsync of the journal failed earlier (\(e)); restart frontd"
            }
            let result = failure
            state.withLock { s in
                if result == nil { s.committed = committed + bytes.count }
                if let nowBroken { s.broken = nowBroken }
            }
            for w in batch {
                if let result { w.done.resume(throwing: result) } else { w.done.resume() }
            }
        }
    }
}
