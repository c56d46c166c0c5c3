import IPC
import Services

extension Frontend {
    /// batchd's events for a generation, sent again once when batchd's connection dies before any text
    /// came back (batchd was killed or crashed and systemd, or `inferctl up`, restarts it behind the same
    /// socket): the client sees one answer, not a 503. Once text has arrived the loss is the client's
    /// error (a stream ends with an error event); the re-send is counted in `infer_frontd_resends_total`.
    ///
    /// Only a request whose answer nobody has seen is sent again, and only once, within its deadline: the
    /// batchd that died cannot finish it, so the model's work is at worst done twice, the answer never.
    /// The events are read in the consumer's own `next()` (no task of their own), so each frame is handled
    /// on the thread that read it.
    func generationEvents(_ generate: GenerationProtocol.Generate) -> AsyncThrowingStream<GenerationProtocol.Event, any Error> {
        let deadline = ContinuousClock.now + requestTimeout
        let events = ResendingEvents(deadline: deadline) { [batch] in
            batch.generate(generate, timeout: ContinuousClock.now.duration(to: deadline)).makeAsyncIterator()
        } resending: { [resends, logger] in
            resends.increment()
            logger.warn("batchd's connection died before any output; sending the request again",
                        ["request_id": .string(generate.requestID)])
        }
        return AsyncThrowingStream(unfolding: { try await events.next() })
    }
}

/// One generation's events from batchd, with ``Frontend/generationEvents(_:)``'s single re-send; read by
/// one consumer at a time (the stream that wraps it).
private final class ResendingEvents: @unchecked Sendable {
    private let deadline: ContinuousClock.Instant
    private let start: () -> AsyncThrowingStream<GenerationProtocol.Event, any Error>.AsyncIterator
    private let resending: () -> Void
    private var events: AsyncThrowingStream<GenerationProtocol.Event, any Error>.AsyncIterator?
    private var output = false
    private var resent = false

    init(deadline: ContinuousClock.Instant, start: @escaping () -> AsyncThrowingStream<GenerationProtocol.Event, any Error>.AsyncIterator,
         resending: @escaping () -> Void) {
        self.deadline = deadline
        self.start = start
        self.resending = resending
    }

    func next() async throws -> GenerationProtocol.Event? {
        while true {
            if events == nil { events = start() }
            do {
                guard let event = try await events?.next() else { return nil }
                if case .route = event {} else { output = true }
                return event
            } catch IPCError.connectionLost where !output && !resent && ContinuousClock.now < deadline {
                resent = true
                events = nil
                resending()
            }
        }
    }
}
