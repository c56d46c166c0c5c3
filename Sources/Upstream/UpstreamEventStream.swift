/// The events of one streaming answer, in order, as they arrive.
///
/// Iterate it once (`for try await event in stream`). It ends (returns nil) at the upstream's
/// `data: [DONE]`; it throws ``UpstreamError`` when the stream breaks: ``UpstreamError/Kind/streamCut``
/// when the body ended or the connection dropped after some events but before `[DONE]`, a
/// ``UpstreamError/Kind/timeout`` (phase `total`) when the total timeout passed, and
/// ``UpstreamError/Kind/cancelled`` when the consuming task was cancelled. Errors after the first
/// event have ``UpstreamError/afterOutput`` set, so they are never retryable.
///
/// Cancelling the consuming task, or dropping the stream before `[DONE]`, closes the upstream
/// connection, which tells the upstream to stop generating.
public struct UpstreamEventStream: AsyncSequence, Sendable {
    public typealias Element = ServerSentEvent
    public typealias Failure = UpstreamError

    /// The response status (2xx).
    public let status: Int
    /// The response headers, names lower-cased.
    public let headers: [String: String]
    let lease: TransferLease

    init(status: Int, headers: [String: String], lease: TransferLease) {
        self.status = status
        self.headers = headers
        self.lease = lease
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(lease: lease)
    }

    /// Reads events off the transfer, parsing SSE as bytes arrive.
    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = ServerSentEvent
        public typealias Failure = UpstreamError

        private let lease: TransferLease
        private var events: AsyncStream<TransferEvent>.Iterator
        private var parser = ServerSentEventParser()
        private var pending: [ServerSentEvent] = []
        private var pendingIndex = 0
        private var delivered = 0
        private var finished = false

        init(lease: TransferLease) {
            self.lease = lease
            self.events = lease.transfer.events.makeAsyncIterator()
        }

        /// The next event, nil after `[DONE]`.
        /// - Throws: ``UpstreamError`` when the stream breaks before `[DONE]`.
        public mutating func next() async throws(UpstreamError) -> ServerSentEvent? {
            try await next(isolation: nil)
        }

        /// The next event, nil after `[DONE]`.
        /// - Throws: ``UpstreamError`` when the stream breaks before `[DONE]`.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(UpstreamError) -> ServerSentEvent? {
            let transfer = lease.transfer
            let route = transfer.route.display
            while true {
                if pendingIndex < pending.count {
                    let event = pending[pendingIndex]
                    pendingIndex += 1
                    if event.isDone {
                        finished = true
                        pending = []
                        transfer.markDone()
                        return nil
                    }
                    delivered += 1
                    return event
                }
                if finished { return nil }
                guard let event = await events.next(isolation: actor) else {
                    // The stream was terminated without an end event: the task was cancelled.
                    finished = true
                    transfer.cancel()
                    throw UpstreamError(.cancelled, route: route, detail: "the caller went away; the connection was closed",
                                        afterOutput: delivered > 0)
                }
                switch event {
                case .head:
                    continue
                case .body(let bytes):
                    do {
                        pending = try parser.feed(bytes)
                        pendingIndex = 0
                    } catch {
                        finished = true
                        transfer.cancel()
                        throw UpstreamError(.invalidResponse, route: route, detail: error.description, afterOutput: delivered > 0)
                    }
                case .end(let failure):
                    finished = true
                    throw Self.streamFailure(failure, delivered: delivered, route: route)
                }
            }
        }

        /// Why a stream that ended before `[DONE]` failed.
        private static func streamFailure(_ failure: UpstreamError?, delivered: Int, route: String) -> UpstreamError {
            guard let failure else {
                if delivered > 0 {
                    return UpstreamError(.streamCut, route: route, detail: "the body ended without [DONE] after \(delivered) events",
                                         afterOutput: true)
                }
                return UpstreamError(.invalidResponse, route: route, detail: "the event stream ended without any event")
            }
            let broken: [UpstreamError.Kind] = [.connectionReset, .connectFailed, .connectRefused, .invalidResponse]
            if delivered > 0 && broken.contains(failure.kind) {
                return UpstreamError(.streamCut, route: route,
                                     detail: "the connection broke after \(delivered) events: \(failure.detail)", afterOutput: true)
            }
            return failure.markingOutput(delivered > 0)
        }
    }
}
