import Basics
import Glibc

/// Why a daemon could not get a listening socket.
///
/// ``isConfiguration`` tells a unit that passed the wrong kind of socket (exit 78, fix the unit) from a
/// bind that failed on this machine (exit 71, EX_OSERR: a restart may succeed).
public struct ListenerError: Error, CustomStringConvertible, Sendable {
    private enum Problem: Sendable {
        case activation(errno: Int32)
        case wrongKind(name: String, descriptor: Int32, expected: String, actual: String)
        case system(operation: String, path: String, errno: Int32)
        case notASocket(path: String)
        case inUse(path: String)
        case pathTooLong(path: String, limit: Int)
    }

    private let problem: Problem

    private init(_ problem: Problem) {
        self.problem = problem
    }

    static func activation(errno: Int32) -> ListenerError { ListenerError(.activation(errno: errno)) }

    package static func wrongKind(name: String, descriptor: Int32, expected: String, actual: String) -> ListenerError {
        ListenerError(.wrongKind(name: name, descriptor: descriptor, expected: expected, actual: actual))
    }

    static func system(_ operation: String, _ path: String, errno: Int32) -> ListenerError {
        ListenerError(.system(operation: operation, path: path, errno: errno))
    }

    static func notASocket(_ path: String) -> ListenerError { ListenerError(.notASocket(path: path)) }

    static func inUse(_ path: String) -> ListenerError { ListenerError(.inUse(path: path)) }

    static func pathTooLong(_ path: String, limit: Int) -> ListenerError {
        ListenerError(.pathTooLong(path: path, limit: limit))
    }

    /// True when the error is in the configuration (the unit's sockets, the socket path), not the machine.
    public var isConfiguration: Bool {
        switch problem {
        case .activation, .wrongKind, .notASocket, .pathTooLong: true
        case .system, .inUse: false
        }
    }

    public var description: String {
        switch problem {
        case .activation(let code):
            "LISTEN_FDS/LISTEN_FDNAMES from systemd are not valid: \(errorText(code))"
        case .wrongKind(let name, let descriptor, let expected, let actual):
            "socket \"\(name)\" (fd \(descriptor), passed by systemd): expected \(expected), got \(actual); "
                + "check ListenStream= and FileDescriptorName= in the .socket unit"
        case .system(let operation, let path, let code):
            "cannot \(operation) \(path): \(errorText(code))"
        case .notASocket(let path):
            "\(path) exists and is not a socket; refusing to replace it"
        case .inUse(let path):
            "\(path) is in use: another process accepts connections on it"
        case .pathTooLong(let path, let limit):
            "socket path \(path) is \(path.utf8.count) bytes long; the limit is \(limit)"
        }
    }
}
