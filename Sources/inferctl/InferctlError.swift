/// Why `inferctl` stops with an error: what went wrong, and the exit status that says which kind it was.
struct InferctlError: Error, CustomStringConvertible, Equatable {
    /// The kinds of failure, each with its exit status (sysexits(3), as the daemons use).
    enum Kind: Equatable {
        /// The command line is wrong (64, EX_USAGE).
        case usage
        /// A setting, the environment file, the registry or the daemon set is wrong (78, EX_CONFIG), or a
        /// daemon exited 78.
        case configuration
        /// The system refused something: a port in use, a directory not writable (71, EX_OSERR).
        case system
        /// A client command could not reach the API (3, like `status` finding no stack).
        case unreachable
        /// Anything else (1); for client commands, a request that failed or a check that did not pass.
        case failure
    }

    let kind: Kind
    let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    static func usage(_ message: String) -> InferctlError { InferctlError(.usage, message) }
    static func configuration(_ message: String) -> InferctlError { InferctlError(.configuration, message) }
    static func system(_ message: String) -> InferctlError { InferctlError(.system, message) }

    /// The process exit status for this kind.
    var exitStatus: Int32 {
        switch kind {
        case .usage: InferctlExit.usage
        case .configuration: InferctlExit.configuration
        case .system: InferctlExit.system
        case .unreachable: InferctlExit.unreachable
        case .failure: InferctlExit.failure
        }
    }
}

/// The exit statuses of `inferctl`, listed in `inferctl --help` and docs/OPERATIONS.md.
enum InferctlExit {
    /// `up`: stopped on SIGINT/SIGTERM after every daemon stopped; `status`: the stack runs.
    static let success: Int32 = 0
    /// An unexpected failure; for the client commands (chat, complete, embed, test-api, bench), a request
    /// that failed, a test-api check that did not pass, or a bench run without one successful request.
    static let failure: Int32 = 1
    /// `status`: no stack runs in the runtime directory (as `systemctl status` says of a stopped unit).
    static let notRunning: Int32 = 3
    /// The client commands: the API at `--url` cannot be reached (connection refused, no route, no
    /// connection within the connect timeout) — the same status as `status` finding no stack.
    static let unreachable: Int32 = notRunning
    /// EX_USAGE: a wrong command line.
    static let usage: Int32 = 64
    /// EX_OSERR: a socket could not be created (port in use, another stack in the directory).
    static let system: Int32 = 71
    /// EX_CONFIG: bad configuration, or a daemon exited 78 (its configuration is wrong): not restarted.
    static let configuration: Int32 = 78
}
