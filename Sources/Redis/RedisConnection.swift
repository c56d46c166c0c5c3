import Glibc
import Reactor
import Synchronization

/// One connection to a Redis server and the thread that drives it.
///
/// Callers on any thread append encoded commands to a shared buffer and a continuation to the queue of
/// waiters, in one critical section, so the order of bytes on the wire is the order of waiters. The I/O
/// thread writes the buffer in as few `send`s as it can, parses replies as they arrive and hands each to
/// the oldest waiter. It also owns the connection's life: connect, log in, serve, and after a failure
/// fail what was pending, wait (backoff with jitter) and connect again.
final class RedisConnection: Sendable {
    private enum Phase {
        case connecting
        case connected
        case disconnected(RedisError)
        case closed
    }

    private struct Shared {
        var phase = Phase.connecting
        /// Encoded commands not yet taken by the I/O thread.
        var outgoing: [UInt8] = []
        var waiters = WaiterQueue()
        /// A wake-up byte is in the pipe (or the I/O thread is about to look at `outgoing` anyway).
        var wakeRequested = false
        var statistics = RedisStatistics()
    }

    /// Bytes read from the socket per `recv`.
    private static let readChunk = 64 << 10
    /// A write buffer larger than this is released once written rather than kept for reuse.
    private static let retainedWriteCapacity = 1 << 20

    let configuration: RedisConfiguration
    private let shared = Mutex(Shared())
    private let wakePipe: WakePipe
    private let endpoint: String

    /// Creates the connection and starts its I/O thread, which connects at once.
    /// - Throws: ``RedisError/Code/startFailed`` when no pipe or thread can be created.
    init(configuration: RedisConfiguration) throws(RedisError) {
        self.configuration = configuration
        self.wakePipe = try WakePipe()
        self.endpoint = configuration.url.endpoint.description
        try startThread()
    }

    // MARK: - Callers' side

    /// Queues encoded commands and waits for all their replies.
    /// - Parameters:
    ///   - encoded: One or more commands, back to back.
    ///   - count: How many commands `encoded` holds (how many replies are due).
    ///   - name: What to call them in errors.
    /// - Returns: The replies, in order.
    func submit(_ encoded: [UInt8], count: Int, name: String) async throws -> [RESPValue] {
        try await withCheckedThrowingContinuation { continuation in
            let deadline = MonotonicTime.now().adding(configuration.commandTimeout)
            let outcome: (wake: Bool, error: RedisError?) = shared.withLock { state in
                switch state.phase {
                case .closed:
                    return (false, RedisError(.closed, "\(name): the client is closed"))
                case .disconnected(let reason):
                    state.statistics.failures += UInt64(count)
                    let code = reason.code == .handshakeFailed ? RedisError.Code.handshakeFailed : .notConnected
                    return (false, RedisError(code, "\(name) not sent: \(reason.message)"))
                case .connecting, .connected:
                    break
                }
                guard state.waiters.count < configuration.maxPendingCommands else {
                    state.statistics.failures += UInt64(count)
                    return (
                        false,
                        RedisError(
                            .overloaded,
                            "\(name) not sent: \(state.waiters.count) commands already wait for replies from \(endpoint) (maximum \(configuration.maxPendingCommands))"
                        )
                    )
                }
                state.outgoing.append(contentsOf: encoded)
                state.waiters.append(
                    WaiterQueue.Waiter(
                        continuation: continuation, remaining: count, replies: [], commandCount: count,
                        deadline: deadline, name: name))
                state.statistics.commands += UInt64(count)
                state.statistics.pending = state.waiters.count
                guard !state.wakeRequested else { return (false, nil) }
                state.wakeRequested = true
                return (true, nil)
            }
            if let error = outcome.error {
                continuation.resume(throwing: error)
            } else if outcome.wake {
                wakePipe.signal()
            }
        }
    }

    /// Counters and gauges now.
    var statistics: RedisStatistics {
        shared.withLock { $0.statistics }
    }

    /// The connection's state now.
    var state: RedisConnectionState {
        shared.withLock { Self.publicState($0.phase) }
    }

    /// Fails everything pending with ``RedisError/Code/closed`` and stops the I/O thread (which closes
    /// the socket). Idempotent.
    func close() {
        let failed: [(WaiterQueue.Continuation, WaiterQueue.Waiter)] = shared.withLock { state in
            if case .closed = state.phase { return [] }
            state.phase = .closed
            state.outgoing = []
            return Self.takeWaiters(&state)
        }
        for (continuation, waiter) in failed {
            continuation.resume(throwing: RedisError(.closed, "\(waiter.name): the client was closed"))
        }
        wakePipe.signal()
    }

    // MARK: - The I/O thread

    private func startThread() throws(RedisError) {
        do {
            try LoopThread.spawn(name: "redis-io") { [self] in run() }
        } catch {
            throw RedisError(.startFailed, "cannot start the client's I/O thread: \(RedisSocket.errorText(error.code))")
        }
    }

    private func run() {
        // Failed attempts since the last successful login: the backoff's exponent.
        var failedAttempts = 0
        connection: while true {
            if failedAttempts > 0 {
                let delay = configuration.reconnectBackoff.delay(beforeAttempt: failedAttempts)
                guard sleep(until: MonotonicTime.now().adding(delay)) else { break connection }
            }
            guard enter(.connecting) else { break connection }
            var descriptor: Int32 = -1
            do throws(RedisError) {
                let deadline = MonotonicTime.now().adding(configuration.connectTimeout)
                descriptor = try RedisSocket.connect(to: configuration.url.endpoint, deadline: deadline) {
                    (descriptor, events, deadline) throws(RedisError) -> Bool in
                    try self.waitUntilReady(descriptor, events: events, deadline: deadline)
                }
                var parser = RESPParser(limits: configuration.parserLimits)
                try logIn(descriptor, parser: &parser, deadline: deadline)
                failedAttempts = 0
                guard enter(.connected) else {
                    Glibc.close(descriptor)
                    break connection
                }
                let reason = serve(descriptor, parser: &parser)
                Glibc.close(descriptor)
                descriptor = -1
                if reason.code == .closed { break connection }
                failEverything(reason, countingAs: \.connectionsLost)
            } catch {
                if descriptor >= 0 { Glibc.close(descriptor) }
                if error.code == .closed { break connection }
                failedAttempts += 1
                failEverything(error, countingAs: \.failedConnects)
            }
        }
        configuration.stateObserver?(.closed)
    }

    /// Runs AUTH, SELECT and CLIENT SETNAME as configured, all in one write, and checks each reply.
    private func logIn(_ descriptor: Int32, parser: inout RESPParser, deadline: MonotonicTime) throws(RedisError) {
        let login = RedisLogin(url: configuration.url, clientName: configuration.clientName)
        guard login.replyCount > 0 else { return }

        let request = login.request
        var written = 0
        while written < request.count {
            let result = request.withUnsafeBytes { RedisSocket.write(descriptor, UnsafeRawBufferPointer(rebasing: $0[written...])) }
            switch result {
            case .success(let count) where count > 0:
                written += count
            case .success:
                guard try waitUntilReady(descriptor, events: Int16(POLLOUT), deadline: deadline) else {
                    throw RedisError(.notConnected, "logging in to \(endpoint) timed out")
                }
            case .failure(let failure):
                throw RedisError(.notConnected, "logging in to \(endpoint): \(failure.message)")
            }
        }

        var replies: [RESPValue] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
        defer { buffer.deallocate() }
        while replies.count < login.replyCount {
            do throws(RESPProtocolError) {
                if let reply = try parser.next() {
                    replies.append(reply)
                    continue
                }
            } catch {
                throw RedisError(.protocolViolation, "logging in to \(endpoint): \(error.message)")
            }
            guard try waitUntilReady(descriptor, events: Int16(POLLIN), deadline: deadline) else {
                throw RedisError(.notConnected, "logging in to \(endpoint) timed out waiting for its replies")
            }
            switch RedisSocket.read(descriptor, into: buffer) {
            case .success(.some(0)):
                throw RedisError(.notConnected, "\(endpoint) closed the connection while logging in")
            case .success(.some(let count)):
                parser.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            case .success(.none):
                continue
            case .failure(let failure):
                throw RedisError(.notConnected, "logging in to \(endpoint): \(failure.message)")
            }
        }
        try login.check(replies, endpoint: endpoint)
    }

    /// Writes queued commands and hands replies to their waiters until the connection fails or the
    /// client is closed.
    /// - Returns: Why serving stopped.
    private func serve(_ descriptor: Int32, parser: inout RESPParser) -> RedisError {
        var sending: [UInt8] = []
        var sent = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readChunk, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            if sent == sending.count {
                // A burst (a pipeline of 100k commands) may have grown the buffer; do not keep that forever.
                sending.removeAll(keepingCapacity: sending.capacity <= Self.retainedWriteCapacity)
                sent = 0
                shared.withLock { state in
                    state.wakeRequested = false
                    swap(&sending, &state.outgoing)
                }
            }
            if sent < sending.count {
                switch sending.withUnsafeBytes({ RedisSocket.write(descriptor, UnsafeRawBufferPointer(rebasing: $0[sent...])) }) {
                case .success(let count): sent += count
                case .failure(let failure): return RedisError(.connectionLost, "\(endpoint): \(failure.message)")
                }
            }
            let events = Int16(POLLIN) | (sent < sending.count ? Int16(POLLOUT) : 0)
            let ready: Int16
            do throws(RedisError) {
                ready = try pollOnce(descriptor, events: events, deadline: nil)
            } catch {
                return error
            }
            guard ready & Int16(POLLIN | POLLERR | POLLHUP) != 0 else { continue }

            var endOfStream = false
            reading: while true {
                switch RedisSocket.read(descriptor, into: buffer) {
                case .success(.some(0)):
                    endOfStream = true
                    break reading
                case .success(.some(let count)):
                    parser.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                    if count < buffer.count { break reading }
                case .success(.none):
                    break reading
                case .failure(let failure):
                    return RedisError(.connectionLost, "\(endpoint): \(failure.message)")
                }
            }
            var replies: [RESPValue] = []
            var violation: RedisError?
            do throws(RESPProtocolError) {
                while let reply = try parser.next() { replies.append(reply) }
            } catch {
                violation = RedisError(.protocolViolation, "\(endpoint) sent an invalid reply: \(error.message)")
            }
            if !replies.isEmpty, !deliver(replies) {
                return RedisError(.protocolViolation, "\(endpoint) sent a reply to no command")
            }
            if let violation { return violation }
            if endOfStream {
                return RedisError(.connectionLost, "\(endpoint) closed the connection")
            }
        }
    }

    /// Hands replies to the oldest waiters.
    /// - Returns: `false` when a reply had no waiter.
    private func deliver(_ replies: [RESPValue]) -> Bool {
        let (completed, expected): ([(WaiterQueue.Continuation, [RESPValue])], Bool) = shared.withLock { state in
            var completed: [(WaiterQueue.Continuation, [RESPValue])] = []
            for reply in replies {
                state.statistics.replies += 1
                if case .error = reply { state.statistics.errorReplies += 1 }
                switch state.waiters.deliver(reply) {
                case .complete(let continuation, let values): completed.append((continuation, values))
                case .partial, .discarded: break
                case .unexpected: return (completed, false)
                }
            }
            state.statistics.pending = state.waiters.count
            return (completed, true)
        }
        for (continuation, values) in completed {
            continuation.resume(returning: values)
        }
        return expected
    }

    // MARK: - Waiting

    /// Waits until `descriptor` is ready for `events` or `deadline` passes, answering commands whose
    /// timeout passes meanwhile.
    /// - Returns: `false` when the deadline passed first.
    /// - Throws: ``RedisError/Code/closed`` when the client is closed meanwhile.
    private func waitUntilReady(_ descriptor: Int32, events: Int16, deadline: MonotonicTime) throws(RedisError) -> Bool {
        while MonotonicTime.now() < deadline {
            if try pollOnce(descriptor, events: events, deadline: deadline) != 0 { return true }
        }
        return false
    }

    /// One poll() on the socket and the wake pipe, bounded by `deadline` and by the next command
    /// deadline; then answers commands whose timeout passed.
    /// - Returns: The socket's ready events (0 when woken for another reason).
    /// - Throws: ``RedisError/Code/closed`` when the client is closed.
    private func pollOnce(_ descriptor: Int32, events: Int16, deadline: MonotonicTime?) throws(RedisError) -> Int16 {
        let nextCommandDeadline = try expireOverdueCommands()
        let wakeAt = [deadline, nextCommandDeadline].compactMap { $0 }.min()
        let timeout = wakeAt.map { MonotonicTime.now().millisecondsUntil($0) } ?? -1
        var descriptors = (
            pollfd(fd: descriptor, events: events, revents: 0),
            pollfd(fd: wakePipe.readDescriptor, events: Int16(POLLIN), revents: 0)
        )
        let status = withUnsafeMutablePointer(to: &descriptors) {
            $0.withMemoryRebound(to: pollfd.self, capacity: 2) { poll($0, 2, timeout) }
        }
        if status < 0 {
            guard errno == EINTR else {
                throw RedisError(.connectionLost, "poll failed: \(RedisSocket.errorText(errno))")
            }
            return 0
        }
        if descriptors.1.revents != 0 { wakePipe.drain() }
        _ = try expireOverdueCommands()
        return descriptors.0.revents
    }

    /// Answers waiters whose timeout has passed.
    /// - Returns: The next waiter's deadline.
    /// - Throws: ``RedisError/Code/closed`` when the client is closed.
    private func expireOverdueCommands() throws(RedisError) -> MonotonicTime? {
        let now = MonotonicTime.now()
        typealias Expired = [(WaiterQueue.Continuation, WaiterQueue.Waiter)]
        let (expired, next, closed): (Expired, MonotonicTime?, Bool) = shared.withLock { state in
            if case .closed = state.phase { return ([], nil, true) }
            guard let next = state.waiters.nextDeadline, next <= now else {
                return ([], state.waiters.nextDeadline, false)
            }
            let expired = state.waiters.expire(now: now)
            let commands = UInt64(expired.reduce(0) { $0 + $1.1.commandCount })
            state.statistics.failures += commands
            state.statistics.timeouts += commands
            return (expired, state.waiters.nextDeadline, false)
        }
        for (continuation, waiter) in expired {
            continuation.resume(
                throwing: RedisError(
                    .timeout,
                    "\(waiter.name): no reply from \(endpoint) within \(configuration.commandTimeout) (it may still run; its reply will be dropped)"
                ))
        }
        if closed { throw RedisError(.closed, "the client is closed") }
        return next
    }

    /// Sleeps between connection attempts, waking early only when the client is closed.
    /// - Returns: `false` when the client was closed.
    private func sleep(until deadline: MonotonicTime) -> Bool {
        while true {
            if case .closed = shared.withLock({ $0.phase }) { return false }
            let now = MonotonicTime.now()
            guard now < deadline else { return true }
            var descriptor = pollfd(fd: wakePipe.readDescriptor, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, now.millisecondsUntil(deadline)) > 0 { wakePipe.drain() }
        }
    }

    // MARK: - State

    /// Moves to `phase` unless the client is closed, and tells the observer.
    /// - Returns: `false` when the client is closed.
    private func enter(_ phase: Phase) -> Bool {
        let entered = shared.withLock { state -> Bool in
            if case .closed = state.phase { return false }
            state.phase = phase
            if case .connected = phase {
                state.statistics.isConnected = true
                state.statistics.connects += 1
            }
            return true
        }
        if entered { configuration.stateObserver?(Self.publicState(phase)) }
        return entered
    }

    /// Fails every pending command with `reason` (retryable) and moves to disconnected.
    private func failEverything(_ reason: RedisError, countingAs counter: WritableKeyPath<RedisStatistics, UInt64>) {
        let failed: [(WaiterQueue.Continuation, WaiterQueue.Waiter)]? = shared.withLock { state in
            if case .closed = state.phase { return nil }
            state.phase = .disconnected(reason)
            state.statistics[keyPath: counter] += 1
            state.outgoing = []
            state.wakeRequested = false
            let failed = Self.takeWaiters(&state)
            state.statistics.failures += UInt64(failed.reduce(0) { $0 + $1.1.commandCount })
            return failed
        }
        guard let failed else { return }
        for (continuation, waiter) in failed {
            let error: RedisError
            switch reason.code {
            case .handshakeFailed, .notConnected:
                error = RedisError(reason.code, "\(waiter.name) not sent: \(reason.message)")
            case .protocolViolation:
                error = RedisError(
                    .protocolViolation, "\(waiter.name): connection dropped (\(reason.message)); it may or may not have run")
            default:
                error = RedisError(
                    .connectionLost, "\(waiter.name): connection lost (\(reason.message)); it may or may not have run")
            }
            continuation.resume(throwing: error)
        }
        configuration.stateObserver?(.disconnected(reason: reason.message))
    }

    private static func takeWaiters(_ state: inout Shared) -> [(WaiterQueue.Continuation, WaiterQueue.Waiter)] {
        let failed = state.waiters.removeAll()
        state.statistics.isConnected = false
        state.statistics.pending = 0
        return failed
    }

    private static func publicState(_ phase: Phase) -> RedisConnectionState {
        switch phase {
        case .connecting: .connecting
        case .connected: .connected
        case .disconnected(let reason): .disconnected(reason: reason.message)
        case .closed: .closed
        }
    }
}
