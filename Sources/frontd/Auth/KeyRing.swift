import APIKeys
import DaemonRuntime
import Glibc
import IPC
import Synchronization

/// The API keys frontd accepts now: the keys file, read at start and again whenever it changes, so
/// `inferctl keys create` and `revoke` take effect without a restart.
///
/// The file is checked on the request path, at most once per `checkInterval` (one `stat(2)`), and read
/// again when its inode, size, mtime or ctime changed (inferctl replaces it by rename, which always
/// gives a new inode). When the file is missing, unreadable or invalid there are no keys at all: every
/// route that needs one answers 401 (fail closed: a broken file must not leave a revoked key working),
/// and the error is logged once per change until the file is fixed.
final class KeyRing: Sendable {
    /// The keys file.
    let path: String
    private let checkInterval: Duration
    private let logger: Logger
    private let state: Mutex<State>

    /// What identifies one version of the file.
    private struct Signature: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: timespec
        var changed: timespec

        static func == (a: Signature, b: Signature) -> Bool {
            a.device == b.device && a.inode == b.inode && a.size == b.size
                && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
                && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
        }
    }

    private struct State {
        var keys: [APIKeyEntry] = []
        /// Why there are no keys, when the file could not be used.
        var problem: String?
        /// The file's signature at the last read (nil: it could not be stat'ed).
        var signature: Signature?
        var lastCheck: ContinuousClock.Instant?
        var everRead = false
    }

    /// Reads the file now (logging what it found) and keeps watching it.
    /// - Parameters:
    ///   - path: The keys file (`API_KEYS_FILE`).
    ///   - logger: Where loads and problems are logged.
    ///   - checkInterval: Least time between two looks at the file.
    init(path: String, logger: Logger, checkInterval: Duration = .seconds(1)) {
        self.path = path
        self.logger = logger
        self.checkInterval = checkInterval
        state = Mutex(State())
        _ = keys()
    }

    /// The keys in force, after looking at the file again if `checkInterval` has passed.
    func keys() -> [APIKeyEntry] {
        state.withLock { state in
            let now = ContinuousClock.now
            if let last = state.lastCheck, now - last < checkInterval { return state.keys }
            state.lastCheck = now
            refresh(&state)
            return state.keys
        }
    }

    /// Why no key is accepted now (the file's error), or nil when the file was read.
    var problem: String? { state.withLock { $0.problem } }

    private func refresh(_ state: inout State) {
        var info = stat()
        let signature: Signature? = stat(path, &info) == 0
            ? Signature(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                        modified: info.st_mtim, changed: info.st_ctim)
            : nil
        // Unchanged since a good read, or still missing: nothing to do. A file that exists but failed is
        // read again at every check (a permission fixed on a parent directory changes nothing in it).
        if state.everRead, signature == state.signature, state.problem == nil || signature == nil { return }
        state.everRead = true
        state.signature = signature
        do {
            let file = try APIKeyFile.load(path: path)
            state.keys = file.keys
            let recovered = state.problem != nil
            state.problem = nil
            logger.info(recovered ? "API keys file readable again" : "API keys loaded",
                        ["file": .string(path), "keys": LogValue(file.keys.count)])
        } catch {
            state.keys = []
            if state.problem != error.description {
                logger.error("\(error.description); every route that needs an API key answers 401 until the file is fixed",
                             ["file": .string(path)])
            }
            state.problem = error.description
        }
    }
}
