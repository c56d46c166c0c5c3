import Reactor

/// The end of the IPC loop's turn, where limitd writes the journal records of the calls the turn ran, and
/// the loop's thread, where replies sent together share one `send` per connection.
enum IPCLoopTurn {
    /// Runs `flush` once the loop has run every handler of the events it woke up for (its work queue comes
    /// after them), when called on the loop's thread; elsewhere (housekeeping, a Redis call's fallback)
    /// at once.
    @Sendable static func deferFlush(_ flush: @escaping @Sendable () -> Void) {
        if case .success(let loop) = EventLoop.shared, loop.inLoop {
            loop.execute(flush)
        } else {
            flush()
        }
    }

    /// Runs `answer` on the loop's thread: at once there, else posted to it.
    @Sendable static func onLoop(_ answer: @escaping @Sendable () -> Void) {
        if case .success(let loop) = EventLoop.shared, !loop.inLoop {
            loop.execute(answer)
        } else {
            answer()
        }
    }
}
