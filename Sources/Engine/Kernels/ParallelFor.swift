import Dispatch
import Foundation

/// How many threads the engine's matrix kernels use. Set once at start (e.g. from `--threads`);
/// 1 gives the single-threaded mode used for measurement.
public enum EngineThreads {
    nonisolated(unsafe) private static var configured = 0

    /// The thread count in effect: the configured one, else the number of active processors.
    public static var count: Int {
        configured > 0 ? configured : max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Sets the thread count for all later kernel calls; values below 1 mean "all processors".
    public static func set(_ n: Int) { configured = max(0, n) }
}

/// Splits `0..<count` into contiguous chunks and runs `body(range)` on up to `EngineThreads.count`
/// threads, returning when every chunk is done. Chunks are at least `grain` items so tiny loops stay
/// on the calling thread.
@inline(__always)
public func parallelChunks(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = min(EngineThreads.count, max(1, count / max(1, grain)))
    if threads <= 1 {
        body(0..<count)
        return
    }
    let per = (count + threads - 1) / threads
    withoutActuallyEscaping(body) { body in
        // The chunks are disjoint and concurrentPerform joins before returning, so sharing `body`
        // (and whatever buffers it captures) across the worker threads is safe.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = t * per
            let hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}
