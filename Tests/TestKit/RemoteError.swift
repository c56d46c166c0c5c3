import IPC

/// The error code and message a failed call got from the daemon it called, or nil for any other error.
public func remoteError(_ error: (any Error)?) -> (code: UInt16, message: String)? {
    if case let IPCError.remote(code, message)? = error { return (code, message) }
    return nil
}
