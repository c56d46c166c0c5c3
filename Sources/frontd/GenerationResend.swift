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
    func generationEvents(_ generate: GenerationProtocol.Generate) -> AsyncThrowingStream<GenerationProtocol.Event, any Error> {
        let deadline = ContinuousClock.now + requestTimeout
        return AsyncThrowingStream { continuation in
            let task = Task {
                var resent = false
                while true {
                    var output = false
                    do {
                        for try await event in batch.generate(generate, timeout: ContinuousClock.now.duration(to: deadline)) {
                            if case .route = event {} else { output = true }
                            continuation.yield(event)
                        }
                        continuation.finish()
                        return
                    } catch IPCError.connectionLost where !output && !resent && ContinuousClock.now < deadline {
                        resent = true
                        resends.increment()
                        logger.warn("batchd's connection died before any output; sending the request again",
                                    ["request_id": .string(generate.requestID)])
                    } catch {
                        continuation.finish(throwing: error)
                        return
                    }
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
