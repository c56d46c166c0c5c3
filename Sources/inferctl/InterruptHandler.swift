import Dispatch
import Glibc
import Synchronization

/// Ctrl-C (SIGINT) as an event the REPL handles instead of dying: it stops the answer being written,
/// or gives a fresh prompt. Installed once; what it does is swapped as the REPL moves between reading
/// a line and waiting for an answer.
final class InterruptHandler: @unchecked Sendable {
    // @unchecked: the dispatch source is set up in init and only resumed and cancelled afterwards.
    private let source: DispatchSourceSignal
    private let action = ActionBox()

    /// The current action, under a lock (a `Mutex` cannot be captured by the source's handler).
    private final class ActionBox: Sendable {
        let current = Mutex<(@Sendable () -> Void)?>(nil)
    }

    /// Takes SIGINT over: the default action (ending the process) is replaced by ``onInterrupt(_:)``'s.
    init() {
        // libdispatch needs the signal ignored, or the default action would still end the process.
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [action] in
            action.current.withLock { $0 }?()
        }
        source.resume()
    }

    deinit {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }

    /// What the next Ctrl-C does.
    func onInterrupt(_ handler: @escaping @Sendable () -> Void) {
        action.current.withLock { $0 = handler }
    }
}
