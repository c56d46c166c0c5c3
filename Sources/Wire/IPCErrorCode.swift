/// The `code` values of ERROR frames that the IPC layer itself defines.
///
/// Codes below ``firstServiceCode`` belong to IPC and mean the same for every service; each service
/// defines its own codes from ``firstServiceCode`` up, next to its messages.
public enum IPCErrorCode {
    /// A frame broke the protocol (bad header, frame out of place, duplicate correlation). The connection closes.
    public static let protocolViolation: UInt16 = 1
    /// The HELLO named another protocol than the one served on this socket. The connection closes.
    public static let wrongProtocol: UInt16 = 2
    /// The HELLO named this protocol with a version the server does not speak. The connection closes.
    public static let unsupportedVersion: UInt16 = 3
    /// A frame header announced a payload above the server's maximum. The connection closes.
    public static let frameTooLarge: UInt16 = 4
    /// The server is draining and takes no new calls; the call was not processed and is safe to retry.
    /// With correlation 0 (sent just before a graceful close): nothing the client sent after the calls
    /// already answered was read, so every other call in flight on the connection may be sent again.
    public static let shuttingDown: UInt16 = 5
    /// The connection has too many calls in flight; the call was not processed.
    public static let overloaded: UInt16 = 6
    /// The service does not know this message type.
    public static let unknownType: UInt16 = 7
    /// The request payload could not be decoded or is invalid.
    public static let badRequest: UInt16 = 8
    /// The service failed in a way that is not the caller's fault.
    public static let internalError: UInt16 = 9
    /// The service gave up because the call's deadline passed.
    public static let deadlineExceeded: UInt16 = 10
    /// The server shut down while the call was running; it may have been partly processed.
    /// ``IPCClient`` reports it as ``IPCError/connectionLost``.
    public static let interrupted: UInt16 = 11
    /// The first code a service may define for itself.
    public static let firstServiceCode: UInt16 = 256

    /// A short name for an IPC-level code, for logs; nil for service codes.
    public static func name(of code: UInt16) -> String? {
        switch code {
        case protocolViolation: "protocol violation"
        case wrongProtocol: "wrong protocol"
        case unsupportedVersion: "unsupported version"
        case frameTooLarge: "frame too large"
        case shuttingDown: "shutting down"
        case overloaded: "overloaded"
        case unknownType: "unknown type"
        case badRequest: "bad request"
        case internalError: "internal error"
        case deadlineExceeded: "deadline exceeded"
        case interrupted: "interrupted"
        default: nil
        }
    }
}
