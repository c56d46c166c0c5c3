import Dispatch
import Synchronization

/// Runs async work from inferctl's synchronous main thread and waits for its result. The main thread is
/// not one of Swift's cooperative threads, so blocking it starves nothing; the work runs on the pool.
/// - Parameter body: The work.
/// - Returns: What it returned.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let result = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        let value = await body()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    // The task stored a value before it signalled.
    return result.withLock { $0 }!
}
