import Basics
import Glibc

/// A listening socket inferctl created and holds for the life of the stack, as PID 1 holds a `.socket`
/// unit's: while the daemon behind it restarts, connections wait in its backlog.
struct OpenListener: Equatable {
    /// The plan it was made from.
    let plan: SocketPlan
    /// The descriptor (close-on-exec; the daemon gets a dup of it as fd 3, 4, ...).
    let descriptor: Int32
    /// Where it listens: a path, or `host:port` with the real port.
    let address: String
    /// The real TCP port (the kernel's pick when the plan said 0); nil for a Unix socket.
    let port: Int?
    /// The socket file's identity, so closing removes this file and never one a later stack made.
    let file: FileIdentity?

    /// Closes the socket and removes its file (if it is still this socket's).
    func close() {
        _ = Glibc.close(descriptor)
        if case .unix(let path) = plan.endpoint { file?.unlinkIfSame(path) }
    }
}

/// A file's device and inode.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    /// The identity of the file at `path` (not following a symbolic link), or nil when there is none.
    init?(path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    /// Removes `path` only when it is still this file.
    func unlinkIfSame(_ path: String) {
        if FileIdentity(path: path) == self { unlink(path) }
    }
}

/// Creates listening sockets the way systemd's socket units do.
enum ListenerFactory {
    /// `Backlog=` default of socket units (SOMAXCONN): room for the connections that arrive while a
    /// daemon restarts; the kernel caps it at net.core.somaxconn.
    static let backlog: Int32 = 4096
    /// `SocketMode=0660` of the units: the daemons' user and group only.
    static let socketMode: mode_t = 0o660
    /// `DirectoryMode=0755` of the units, for the runtime directory.
    static let directoryMode: mode_t = 0o755

    /// Opens one socket.
    /// - Parameter plan: The socket.
    /// - Returns: The listening socket.
    /// - Throws: ``InferctlError`` (`.system`) naming the address and the system's reason.
    static func open(_ plan: SocketPlan) throws(InferctlError) -> OpenListener {
        switch plan.endpoint {
        case .unix(let path):
            let descriptor = try listenUnix(path: path)
            return OpenListener(plan: plan, descriptor: descriptor, address: path, port: nil, file: FileIdentity(path: path))
        case .tcp(let host, let port):
            let (descriptor, realPort) = try listenTCP(host: host, port: port)
            let shown = host.contains(":") ? "[\(host)]:\(realPort)" : "\(host):\(realPort)"
            return OpenListener(plan: plan, descriptor: descriptor, address: shown, port: realPort, file: nil)
        }
    }

    /// Creates a directory and its missing parents with mode 0755.
    /// - Parameter path: The absolute path.
    /// - Throws: ``InferctlError`` (`.system`).
    static func makeDirectory(_ path: String) throws(InferctlError) {
        do throws(FileError) {
            try FileIO.makeDirectories(path, mode: directoryMode, durable: false)
        } catch {
            throw .system(error.description)
        }
    }

    private static func listenUnix(path: String) throws(InferctlError) -> Int32 {
        try removeStaleSocket(path)
        guard let address = SocketAddress(unixPath: path) else {
            throw .configuration("socket path \(path) is too long")
        }
        return try listen(address, shown: path)
    }

    private static func listenTCP(host: String, port: Int) throws(InferctlError) -> (Int32, Int) {
        let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        guard let address = SocketAddress(ipLiteral: host, port: UInt16(truncatingIfNeeded: port)) else {
            throw .configuration("\(host) is not an IP address")
        }
        let descriptor = try listen(address, shown: shown)
        return (descriptor, SocketAddress.localPort(of: descriptor) ?? port)
    }

    /// A blocking listening socket at `address`, as a socket unit makes it: `Backlog=`, `SocketMode=` and
    /// (TCP) the units' `NoDelay=yes`, which accepted connections inherit, so small replies and SSE events
    /// go out at once instead of waiting for Nagle's algorithm.
    private static func listen(_ address: SocketAddress, shown: String) throws(InferctlError) -> Int32 {
        do throws(SocketError) {
            return try address.listen(.init(backlog: backlog, nonBlocking: false, unixMode: socketMode, noDelay: true), shown: shown)
        } catch {
            let tcpInUse = address.unixPath == nil && error.operation == "bind" && error.code == EADDRINUSE
            let hint = tcpInUse ? " (another program listens there; pick another port)" : ""
            throw .system("cannot \(error.operation) \(shown): \(errorText(error.code))\(hint)")
        }
    }

    /// Removes a socket file nothing accepts on any more (left by a stack that was killed); refuses to
    /// touch a socket in use (another stack runs in this directory) or anything that is not a socket.
    private static func removeStaleSocket(_ path: String) throws(InferctlError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw .system("\(path) exists and is not a socket; refusing to replace it")
        }
        if isAccepting(path) {
            throw .system("\(path) is in use: another stack runs in this directory (see inferctl status)")
        }
        if unlink(path) != 0 && errno != ENOENT {
            throw .system("cannot remove the stale socket \(path): \(errorText(errno))")
        }
    }

    /// Whether a process accepts connections on a Unix socket path.
    static func isAccepting(_ path: String) -> Bool {
        SocketAddress(unixPath: path)?.probeStreamConnection() == 0
    }
}
