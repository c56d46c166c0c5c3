/// What a frame is for: the handshake, one step of a call, or an error.
///
/// The raw values are the `kind` byte of the frame header (docs/PROTOCOL.md).
public enum FrameKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Client → server, first frame on a connection: protocol name and version.
    case hello = 1
    /// Server → client: the handshake is accepted; echoes the protocol name and version.
    case helloAck = 2
    /// Client → server: a call. The payload starts with a `u32` timeout in milliseconds.
    case request = 3
    /// Server → client: the single answer to a call (terminal).
    case reply = 4
    /// Server → client: one piece of a streamed answer.
    case chunk = 5
    /// Server → client: the end of a streamed answer, optionally with a last piece (terminal).
    case end = 6
    /// Client → server: the client no longer wants the answer to a call.
    case cancel = 7
    /// Either way: `u16` code and a message; for a call (terminal) or, with correlation 0, for the connection.
    case error = 8

    /// The upper-case name used in docs/PROTOCOL.md.
    public var description: String {
        switch self {
        case .hello: "HELLO"
        case .helloAck: "HELLO_ACK"
        case .request: "REQUEST"
        case .reply: "REPLY"
        case .chunk: "CHUNK"
        case .end: "END"
        case .cancel: "CANCEL"
        case .error: "ERROR"
        }
    }

    /// Whether this kind ends a call: exactly one of these is sent per call that is not cancelled.
    public var isTerminal: Bool {
        self == .reply || self == .end || self == .error
    }
}
