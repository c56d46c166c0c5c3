import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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
/// on the calling thread. `chunksPerThread` above 1 cuts the work finer so a thread that runs late
/// (another process on its core) holds the others up less; chunk starts are multiples of `align`.
@inline(__always)
public func parallelChunks(_ count: Int, grain: Int = 1, chunksPerThread: Int = 1, align: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = min(EngineThreads.count, max(1, count / max(1, grain)))
    if threads <= 1 {
        body(0..<count)
        return
    }
    let per = chunkLength(count, threads: threads, grain: grain, chunksPerThread: chunksPerThread, align: align)
    withoutActuallyEscaping(body) { body in
        WorkerPool.shared.run(chunks: (count + per - 1) / per) { t in
            let lo = t * per
            let hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// `parallelChunks` over several row ranges at once (e.g. the Q, K and V products of one layer):
/// each `0..<counts[i]` is cut into chunks of about the same size, and `body(i, range)` runs for
/// every chunk of every range in one job — one wait for the threads instead of one per range.
@inline(__always)
public func parallelChunks(_ counts: [Int], grain: Int = 1, chunksPerThread: Int = 1, align: Int = 1,
                           _ body: (Int, Range<Int>) -> Void) {
    let total = counts.reduce(0, +)
    let threads = min(EngineThreads.count, max(1, total / max(1, grain)))
    if threads <= 1 {
        for (i, count) in counts.enumerated() where count > 0 { body(i, 0..<count) }
        return
    }
    let per = chunkLength(total, threads: threads, grain: grain, chunksPerThread: chunksPerThread, align: align)
    var pieces: [(Int, Range<Int>)] = []
    for (i, count) in counts.enumerated() {
        var lo = 0
        while lo < count {
            pieces.append((i, lo..<min(count, lo + per)))
            lo += per
        }
    }
    withoutActuallyEscaping(body) { body in
        pieces.withUnsafeBufferPointer { pieces in
            WorkerPool.shared.run(chunks: pieces.count) { p in body(pieces[p].0, pieces[p].1) }
        }
    }
}

/// Items per chunk when `count` items go to `threads` threads: about `chunksPerThread` chunks each,
/// none shorter than `grain` unless there are fewer items, rounded up to a multiple of `align`.
@inline(__always)
func chunkLength(_ count: Int, threads: Int, grain: Int, chunksPerThread: Int, align: Int) -> Int {
    let a = max(1, align)
    let chunks = max(threads, min(threads * chunksPerThread, count / max(1, grain)))
    return max(a, ((count + chunks - 1) / chunks + a - 1) / a * a)
}

/// A fixed set of worker threads that pick up the chunks of one job at a time.
///
/// A decode step issues a few hundred small matrix products, each only tens of microseconds long,
/// so waking threads through the kernel for each one (as Dispatch does) would cost as much as the
/// work. Workers instead spin briefly on an atomic between jobs and only sleep on a condition
/// variable after `spinLimit` of idleness. A job posted while another is running (two callers at
/// once) runs on the caller's thread alone.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(workers: max(1, ProcessInfo.processInfo.activeProcessorCount) - 1)

    /// Idle time a worker spins before it sleeps.
    static let spinLimit: Duration = .microseconds(300)

    /// Job generation in the high 32 bits, next unclaimed chunk in the low 32 bits: claiming a chunk
    /// and checking it belongs to the current job is one compare-and-swap.
    private let cursor = Atomic<Int>(0)
    /// Chunks of the current job not finished yet.
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    nonisolated(unsafe) private var job: (Int) -> Void = { _ in }
    nonisolated(unsafe) private var chunks = 0
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    let workers: Int

    init(workers: Int) {
        self.workers = workers
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        for _ in 0..<workers {
            let t = Thread { [unowned self] in self.workerLoop() }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    /// Runs `body(i)` for i in 0..<chunks on the pool and the calling thread; returns when all are done.
    func run(chunks n: Int, _ body: (Int) -> Void) {
        guard workers > 0, n > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for i in 0..<n { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            job = body
            chunks = n
            pending.store(n, ordering: .releasing)
            let generation = (cursor.load(ordering: .relaxed) >> 32) &+ 1
            cursor.store(generation << 32, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&cond)
                pthread_mutex_unlock(&mutex)
            }
            work(generation: generation)
            while pending.load(ordering: .acquiring) > 0 {}
            job = { _ in }
        }
        busy.store(false, ordering: .releasing)
    }

    /// Claims and runs chunks of job `generation` until none is left.
    private func work(generation: Int) {
        while true {
            let v = cursor.load(ordering: .acquiring)
            guard v >> 32 == generation, v & 0xFFFF_FFFF < chunks else { return }
            guard cursor.compareExchange(expected: v, desired: v + 1, ordering: .acquiringAndReleasing).exchanged else { continue }
            job(v & 0xFFFF_FFFF)
            pending.subtract(1, ordering: .releasing)
        }
    }

    private func workerLoop() {
        var seen = 0
        let clock = ContinuousClock()
        while true {
            var idleSince = clock.now
            var spins = 0
            while cursor.load(ordering: .acquiring) >> 32 == seen {
                spins += 1
                guard spins & 1023 == 0 else { continue }
                if idleSince.duration(to: clock.now) > Self.spinLimit {
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_lock(&mutex)
                    while cursor.load(ordering: .sequentiallyConsistent) >> 32 == seen {
                        pthread_cond_wait(&cond, &mutex)
                    }
                    pthread_mutex_unlock(&mutex)
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    idleSince = clock.now
                }
            }
            seen = cursor.load(ordering: .acquiring) >> 32
            work(generation: seen)
        }
    }
}
