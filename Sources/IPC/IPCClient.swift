import Basics
import Reactor
import Synchronization
import Wire

/// Calls a daemon over multiplexed connections to its Unix socket: one per event loop its callers run on.
///
/// A call made on the thread of an HTTP event loop (a request's handler) goes out on that loop's own
/// connection, whose replies that same thread reads, so the reply resumes the handler without waking
/// another thread; calls from anywhere else share one connection read by the process-wide IPC loop.
/// Each connection (``IPCClientLane``) is made on first use and greeted with HELLO; requests wait for
/// HELLO_ACK, then many are in flight at once. When the peer goes away (no socket file, refused, reset,
/// end of file) the client reconnects with exponential backoff (5 ms doubling to 200 ms) while requests
/// are waiting, each within its own deadline — with systemd socket activation the socket stays open while
/// the daemon restarts, so a request sent then simply waits in the listen backlog. Requests already sent
/// on a connection that dies fail with ``IPCError/connectionLost`` (only the caller knows whether a retry
/// is safe); requests not yet written, and requests a draining server refused with
/// ``IPCErrorCode/shuttingDown``, go out on the next connection. Cancelling the calling task, or dropping
/// a stream, sends CANCEL.
///
/// Calls on one connection reach the server in the order they were made; calls made on different
/// loops travel on different connections, with no order between them.
///
/// ```swift
/// let limitd = IPCClient(path: "/run/infer/limitd.sock", protocolName: "infer.limitd", version: 1)
/// let reply = try await limitd.call(type: 1, payload: request, timeout: .milliseconds(50))
/// ```
public final class IPCClient: Sendable {
    /// The daemon's socket.
    public let path: String
    /// The protocol named in HELLO, e.g. `infer.limitd`.
    public let protocolName: String
    /// The protocol version named in HELLO.
    public let version: UInt16
    /// Largest frame payload either way.
    public let maxFrame: Int

    /// The connection of callers on no attached loop, read by ``EventLoop/shared``.
    private let sharedLane: IPCClientLane
    /// The connection of each attached loop callers ran on, made on its first call there.
    private let loopLanes = Mutex(LoopLanes())

    private struct LoopLanes {
        var lanes: [ObjectIdentifier: IPCClientLane] = [:]
        /// After ``close()`` no lane is made: calls go to the shared one, closed, and fail.
        var closed = false
    }

    /// Creates a client; nothing is connected until the first call.
    /// - Parameters:
    ///   - path: The daemon's socket.
    ///   - protocolName: The protocol the daemon must serve, e.g. `infer.limitd`.
    ///   - version: The protocol version.
    ///   - maxFrame: Largest frame payload either way (default 1 MiB; must match the server's).
    public init(path: String, protocolName: String, version: UInt16, maxFrame: Int = Frame.defaultMaxPayload) {
        self.path = path
        self.protocolName = protocolName
        self.version = version
        self.maxFrame = maxFrame
        sharedLane = IPCClientLane(path: path, protocolName: protocolName, version: version, maxFrame: maxFrame,
                                   loop: EventLoop.shared)
    }

    /// The lane of the caller's loop: its attached loop's, else the shared one.
    private var lane: IPCClientLane {
        guard let loop = EventLoop.current else { return sharedLane }
        let id = ObjectIdentifier(loop)
        return loopLanes.withLock { state in
            if let lane = state.lanes[id] { return lane }
            guard !state.closed else { return sharedLane }
            let lane = IPCClientLane(path: path, protocolName: protocolName, version: version, maxFrame: maxFrame,
                                     loop: .success(loop))
            state.lanes[id] = lane
            return lane
        }
    }

    private var allLanes: [IPCClientLane] { [sharedLane] + loopLanes.withLock { Array($0.lanes.values) } }

    // MARK: Calls

    /// Sends a request and waits for its single answer.
    ///
    /// A REPLY's payload is returned; a streamed answer (CHUNKs then END) is returned joined.
    /// - Parameters:
    ///   - type: Message type.
    ///   - payload: Request payload (at most `maxFrame - 4` bytes).
    ///   - timeout: How long to wait in all, including connecting; the server sees it as the call's deadline.
    /// - Returns: The answer's payload.
    /// - Throws: ``IPCError``, or `CancellationError` when the task is cancelled (CANCEL is sent).
    public func call(type: UInt16, payload: [UInt8], timeout: Duration) async throws -> [UInt8] {
        try await lane.call(type: type, payload: payload, timeout: timeout)
    }

    /// Sends a message and decodes the single answer.
    /// - Parameters:
    ///   - request: The message (its type goes in the frame header).
    ///   - response: The answer's type.
    ///   - timeout: How long to wait in all.
    /// - Returns: The decoded answer.
    /// - Throws: ``IPCError`` (an undecodable answer is ``IPCError/protocolViolation(_:)``), or `CancellationError`.
    public func call<Request: WireMessage, Response: WireCodable>(
        _ request: Request, returning response: Response.Type, timeout: Duration
    ) async throws -> Response {
        let bytes = try await call(type: Request.type, payload: request.encoded(), timeout: timeout)
        do {
            return try Response(decoding: bytes)
        } catch {
            throw IPCError.protocolViolation("undecodable \(Response.self) answer: \(error)")
        }
    }

    /// Sends a request whose answer is streamed.
    ///
    /// Yields each CHUNK's payload; END finishes the stream, yielding its payload first when it is not
    /// empty. A single REPLY is yielded as one element. Ending iteration early (or cancelling the consuming
    /// task) sends CANCEL. Pieces wait in the stream's buffer while the consumer lags; the server's pace
    /// and the timeout bound how many.
    /// - Parameters:
    ///   - type: Message type.
    ///   - payload: Request payload.
    ///   - timeout: How long the whole stream may take, until END.
    /// - Returns: The stream of payloads; it throws ``IPCError`` on failure.
    public func stream(type: UInt16, payload: [UInt8], timeout: Duration) -> AsyncThrowingStream<[UInt8], any Error> {
        lane.stream(type: type, payload: payload, timeout: timeout)
    }

    /// Fails every waiting request and closes every connection; later calls fail with
    /// ``IPCError/unavailable(_:)``.
    public func close() {
        loopLanes.withLock { $0.closed = true }
        for lane in allLanes { lane.close() }
    }

    /// Requests waiting for an answer (sent or not), on every connection.
    public var pendingCount: Int { allLanes.reduce(0) { $0 + $1.pendingCount } }

    /// Whether a greeted connection is open now (any of them).
    public var isConnected: Bool { allLanes.contains { $0.isConnected } }
}
