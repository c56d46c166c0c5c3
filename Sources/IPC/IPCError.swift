import Wire
/// Why a call through ``IPCClient`` failed.
///
/// The cases tell callers what is safe: ``unavailable(_:)`` means the request never reached a server
/// (retrying cannot duplicate work); ``timeout`` and ``connectionLost`` mean it may have been processed.
/// Task cancellation is reported as `CancellationError`, not as an `IPCError`.
public enum IPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The request was sent but no answer came before its deadline; CANCEL was sent.
    case timeout
    /// The request was never sent: no connection could be made (and greeted) before the deadline, or the
    /// client is closed. The reason names the last failure, e.g. `connect /run/infer/limitd.sock: No such file or directory`.
    case unavailable(String)
    /// The connection died after the request was sent; it may or may not have been processed.
    case connectionLost
    /// The server answered with an ERROR: an ``IPCErrorCode`` or one of the service's own codes.
    case remote(code: UInt16, message: String)
    /// The peer broke the protocol, or the request itself cannot be framed (e.g. over the frame limit).
    case protocolViolation(String)
    /// The socket serves another protocol (or version): `name/version` expected and found.
    case wrongProtocol(expected: String, got: String)

    /// One line for logs.
    public var description: String {
        switch self {
        case .timeout:
            "timed out waiting for the reply"
        case let .unavailable(reason):
            "service unavailable: \(reason)"
        case .connectionLost:
            "connection lost after the request was sent"
        case let .remote(code, message):
            if let name = IPCErrorCode.name(of: code) {
                "remote error \(code) (\(name)): \(message)"
            } else {
                "remote error \(code): \(message)"
            }
        case let .protocolViolation(message):
            "protocol violation: \(message)"
        case let .wrongProtocol(expected, got):
            "wrong protocol: expected \(expected), socket serves \(got)"
        }
    }
}
