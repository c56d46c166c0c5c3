#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Basics
import Foundation
import Reactor
import Synchronization

/// One HTTP exchange with the upstream, whatever carries it (URLSession, or an ``HTTP1Connection`` on
/// the process's event loop): turns the transport's callbacks into ``TransferEvent``s, enforces the phase
/// timeouts, and cancels the transport (which closes its connection) when asked or when a timeout fires.
final class Transfer: Sendable {
    /// Where the exchange is; each phase has its own deadline (see ``UpstreamTimeouts``).
    private enum Phase: Sendable {
        /// Connecting and writing the request (requests with a body).
        case writing
        /// The request is written; waiting for the response head.
        case awaitingHead
        /// The head arrived; the body is coming.
        case receiving
        /// The consumer saw the stream's `[DONE]`; the body should end at once (a short grace).
        case draining
        case finished
    }

    private struct State: Sendable {
        var phase: Phase
        var phaseStart: ContinuousClock.Instant
        /// Closes the transport's connection; it then reports its end (``didComplete(error:)`` or
        /// ``didComplete(failure:)``).
        var cancelTransport: (@Sendable () -> Void)?
        var timedOut: UpstreamError.TimeoutPhase?
        var cancelled = false
        var watchdog: Task<Void, Never>?
        /// The watchdog as a timer of the transport's loop, when it runs on one.
        var timer: (loop: EventLoop, timer: LoopTimer)?
    }

    /// How long a stream may go on after `[DONE]` before its connection is closed.
    static let drainGrace: Duration = .seconds(2)

    /// The events, for one consumer at a time.
    let events: AsyncStream<TransferEvent>
    let route: UpstreamRoute
    private let continuation: AsyncStream<TransferEvent>.Continuation
    private let state: Mutex<State>
    private let timeouts: UpstreamTimeouts
    private let totalDeadline: ContinuousClock.Instant
    private let hasBody: Bool
    private let redactor: Redactor
    /// Called once when the exchange ends, however it ends (gives the concurrency slot back).
    private let onEnd: Mutex<(@Sendable () -> Void)?>

    /// - Parameters:
    ///   - deadline: when the whole call must be over (its total timeout or the caller's deadline).
    ///   - onEnd: run once when the exchange ends.
    init(
        route: UpstreamRoute, hasBody: Bool, deadline: ContinuousClock.Instant, timeouts: UpstreamTimeouts,
        redactor: Redactor, onEnd: @escaping @Sendable () -> Void
    ) {
        self.route = route
        self.hasBody = hasBody
        self.timeouts = timeouts
        self.totalDeadline = deadline
        self.redactor = redactor
        self.onEnd = Mutex(onEnd)
        (events, continuation) = AsyncStream.makeStream(of: TransferEvent.self, bufferingPolicy: .unbounded)
        state = Mutex(State(phase: hasBody ? .writing : .awaitingHead, phaseStart: .now))
        continuation.onTermination = { [weak self] termination in
            // The consumer's task was cancelled while it waited: close the connection.
            if case .cancelled = termination { self?.cancel() }
        }
    }

    /// Creates the URLSession task, registers it with the delegate, and starts it and the watchdog.
    func start(request: URLRequest, session: URLSession, delegate: SessionDelegate) {
        let task = session.dataTask(with: request)
        delegate.register(self, for: task)
        let cancelledAlready = begin { task.cancel() }
        task.resume()
        // Cancelled before the task existed: a resumed-then-cancelled task still reports its end,
        // which gives the concurrency slot back.
        if cancelledAlready { task.cancel() }
    }

    /// Records how to cancel the transport that is about to start, and starts the watchdog: a timer of
    /// `loop` when the transport runs on one (no task, no other thread), else a task that sleeps.
    /// - Returns: whether the exchange was cancelled already (the caller starts the transport all the
    ///   same and cancels it, so that it reports its end).
    func begin(timersOn loop: EventLoop? = nil, cancelTransport: @escaping @Sendable () -> Void) -> Bool {
        let cancelledAlready = state.withLock { state -> Bool in
            state.cancelTransport = cancelTransport
            state.phaseStart = .now
            return state.cancelled
        }
        if let loop {
            armTimer(on: loop)
            return cancelledAlready
        }
        let watchdog = Task { [weak self] in
            guard let self else { return }
            await self.watch()
        }
        state.withLock { $0.watchdog = watchdog }
        return cancelledAlready
    }

    /// Closes the exchange early (the consumer went away, or stopped reading); no effect once ended.
    func cancel() {
        let cancelTransport = state.withLock { state -> (@Sendable () -> Void)? in
            guard state.phase != .finished else { return nil }
            if state.timedOut == nil { state.cancelled = true }
            return state.cancelTransport
        }
        cancelTransport?()
    }

    /// The consumer saw `[DONE]`: let the body end by itself, briefly, so the connection can be reused.
    func markDone() {
        state.withLock { state in
            guard state.phase == .receiving else { return }
            state.phase = .draining
            state.phaseStart = .now
        }
    }

    /// The consumer dropped the stream: close the connection unless the stream was complete.
    func abandon() {
        let draining = state.withLock { $0.phase == .draining || $0.phase == .finished }
        if !draining { cancel() }
    }

    // MARK: Transport callbacks (in order, from one thread at a time)

    func didSendBody(total: Int64, expected: Int64) {
        state.withLock { state in
            guard state.phase == .writing, expected <= 0 || total >= expected else { return }
            state.phase = .awaitingHead
            state.phaseStart = .now
        }
    }

    func didReceive(response: URLResponse) {
        guard let http = response as? HTTPURLResponse else { return }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        didReceive(status: http.statusCode, headers: headers)
    }

    /// The response head (header names lower-cased).
    func didReceive(status: Int, headers: [String: String]) {
        state.withLock { state in
            guard state.phase == .writing || state.phase == .awaitingHead else { return }
            state.phase = .receiving
            state.phaseStart = .now
        }
        continuation.yield(.head(status: status, headers: headers))
    }

    func didReceive(data: Data) {
        continuation.yield(.body([UInt8](data)))
    }

    /// Body bytes, in order.
    func didReceive(bytes: [UInt8]) {
        continuation.yield(.body(bytes))
    }

    /// URLSession's end of the exchange: nil when the whole body arrived.
    func didComplete(error: (any Error)?) {
        finish { state in error.map { classify($0, state: state) } }
    }

    /// An ``HTTP1Connection``'s end of the exchange: nil when the whole body arrived, else what broke
    /// it (a timeout or cancellation recorded here takes precedence).
    func didComplete(failure: HTTP1Failure?) {
        finish { state in failure.map { classify($0, state: state) } }
    }

    private func finish(_ classified: (State) -> UpstreamError?) {
        let snapshot = state.withLock { state -> State in
            let before = state
            state.phase = .finished
            state.cancelTransport = nil
            state.watchdog?.cancel()
            state.watchdog = nil
            state.timer = nil
            return before
        }
        if let (loop, timer) = snapshot.timer { loop.cancel(timer) }
        continuation.yield(.end(classified(snapshot)))
        continuation.finish()
        if let onEnd = onEnd.withLock({ handler in defer { handler = nil }; return handler }) { onEnd() }
    }

    // MARK: Timeouts

    /// Sleeps until the current phase's deadline, again and again, until the exchange ends; cancels
    /// the transport (recording the phase) when a deadline passes in the phase it belongs to.
    private func watch() async {
        while let (wakeUp, _) = nextDeadline() {
            do {
                try await Task.sleep(until: wakeUp, clock: .continuous)
            } catch {
                return  // the exchange ended
            }
            if fireIfDue() { return }
        }
    }

    /// ``watch()`` as a timer of `loop`: fires at the current phase's deadline, and again at the next
    /// one until the exchange ends or a deadline passes.
    private func armTimer(on loop: EventLoop) {
        guard let (wakeUp, _) = nextDeadline() else { return }
        let delay = max(.zero, ContinuousClock.now.duration(to: wakeUp))
        let timer = loop.schedule(afterNanoseconds: delay.clampedNanoseconds) { [weak self] in
            guard let self, !self.fireIfDue() else { return }
            self.armTimer(on: loop)
        }
        let ended = state.withLock { state -> Bool in
            guard state.phase != .finished else { return true }
            state.timer = (loop, timer)
            return false
        }
        if ended { loop.cancel(timer) }
    }

    /// Cancels the transport when the current phase's deadline has passed (recording the phase).
    /// - Returns: true when it did, or the transport is being closed already: the watch is over.
    private func fireIfDue() -> Bool {
        var over = false
        let due = state.withLock { state -> (@Sendable () -> Void)? in
            guard state.timedOut == nil, !state.cancelled else {
                over = true
                return nil
            }
            guard let (due, phase) = deadline(for: state), ContinuousClock.now >= due else { return nil }
            if state.phase == .draining {
                state.cancelled = true  // nobody waits for an error any more
            } else {
                state.timedOut = phase
            }
            return state.cancelTransport
        }
        guard let due else { return over }
        due()
        return true
    }

    private func nextDeadline() -> (ContinuousClock.Instant, UpstreamError.TimeoutPhase)? {
        state.withLock { deadline(for: $0) }
    }

    private func deadline(for state: State) -> (ContinuousClock.Instant, UpstreamError.TimeoutPhase)? {
        let phaseDeadline: (ContinuousClock.Instant, UpstreamError.TimeoutPhase)?
        switch state.phase {
        case .writing: phaseDeadline = (state.phaseStart + timeouts.connect, .connect)
        case .awaitingHead:
            // A bodiless request gives no "written" signal: it gets both budgets from its start.
            let budget = hasBody ? timeouts.firstByte : timeouts.connect + timeouts.firstByte
            phaseDeadline = (state.phaseStart + budget, .firstByte)
        case .receiving: phaseDeadline = nil
        case .draining: phaseDeadline = (state.phaseStart + Self.drainGrace, .total)
        case .finished: return nil
        }
        guard let phaseDeadline, phaseDeadline.0 < totalDeadline else { return (totalDeadline, .total) }
        return phaseDeadline
    }

    // MARK: Classification

    /// The error of a timeout or cancellation recorded here, which takes precedence over whatever the
    /// transport saw when it was closed for it.
    private func recorded(_ state: State) -> UpstreamError? {
        let route = self.route.display
        if let phase = state.timedOut {
            let detail =
                switch phase {
                case .connect: "the request was not written within \(timeouts.connect.upstreamSeconds) s"
                case .firstByte:
                    "no response head within \((hasBody ? timeouts.firstByte : timeouts.connect + timeouts.firstByte).upstreamSeconds) s"
                case .total: "the call's deadline passed (total timeout \(timeouts.total.upstreamSeconds) s, or the caller's)"
                }
            return UpstreamError(.timeout, route: route, detail: detail, timeoutPhase: phase)
        }
        if state.cancelled {
            return UpstreamError(.cancelled, route: route, detail: "the caller went away; the connection was closed")
        }
        return nil
    }

    private func classify(_ failure: HTTP1Failure, state: State) -> UpstreamError {
        if let recorded = recorded(state) { return recorded }
        let route = self.route.display
        let detail = redactor.redact(failure.detail)
        switch failure.kind {
        case .connectRefused, .connectFailed, .invalidResponse:
            return UpstreamError(failure.kind, route: route, detail: detail)
        default:
            // A connection that breaks before the request is written failed to connect, as libcurl reports it.
            return UpstreamError(state.phase == .writing ? .connectFailed : .connectionReset, route: route, detail: detail)
        }
    }

    private func classify(_ error: any Error, state: State) -> UpstreamError {
        if let recorded = recorded(state) { return recorded }
        let route = self.route.display
        let nsError = error as NSError
        let text = redactor.redact(Self.transportText(nsError))
        let detail = "\(text.isEmpty ? "transport error" : text) (URL error \(nsError.code))"
        if nsError.code == NSURLErrorCancelled {
            return UpstreamError(.cancelled, route: route, detail: "the caller went away; the connection was closed")
        }
        let headArrived = state.phase == .receiving || state.phase == .draining
        let lowered = text.lowercased()
        switch nsError.code {
        case NSURLErrorTimedOut:
            let phase: UpstreamError.TimeoutPhase =
                switch state.phase {
                case .writing: .connect
                case .awaitingHead: .firstByte
                default: .total
                }
            return UpstreamError(.timeout, route: route, detail: detail, timeoutPhase: phase)
        case NSURLErrorCannotConnectToHost:
            return UpstreamError(.connectRefused, route: route, detail: detail)
        case NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed, NSURLErrorNotConnectedToInternet, NSURLErrorBadURL,
            NSURLErrorUnsupportedURL:
            return UpstreamError(.connectFailed, route: route, detail: detail)
        case NSURLErrorNetworkConnectionLost, NSURLErrorBadServerResponse:
            return UpstreamError(.connectionReset, route: route, detail: detail)
        case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateHasBadDate,
            NSURLErrorServerCertificateUntrusted, NSURLErrorServerCertificateHasUnknownRoot,
            NSURLErrorServerCertificateNotYetValid, NSURLErrorClientCertificateRejected,
            NSURLErrorClientCertificateRequired:
            return UpstreamError(.tls, route: route, detail: detail)
        default:
            // libcurl's other failures arrive as NSURLErrorUnknown with curl's message: read it.
            if lowered.contains("ssl") || lowered.contains("certificate") || lowered.contains("tls") {
                return UpstreamError(.tls, route: route, detail: detail)
            }
            if lowered.contains("refused") { return UpstreamError(.connectRefused, route: route, detail: detail) }
            if !headArrived && (lowered.contains("connect") || lowered.contains("resolve")) {
                return UpstreamError(.connectFailed, route: route, detail: detail)
            }
            return UpstreamError(headArrived || state.phase == .awaitingHead ? .connectionReset : .connectFailed,
                                 route: route, detail: detail)
        }
    }

    /// libcurl's own words for a failure (corelibs puts them in the localized description); never
    /// the failing URL, which the error's user info also holds.
    private static func transportText(_ error: NSError) -> String {
        if let text = error.userInfo[NSLocalizedDescriptionKey] as? String, !text.isEmpty { return text }
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError,
            let text = underlying.userInfo[NSLocalizedDescriptionKey] as? String
        {
            return text
        }
        return ""
    }
}
