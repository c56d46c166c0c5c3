import Basics
import DaemonRuntime
import Dispatch
import Glibc
import Synchronization

/// Warm restarts: loads the snapshot at start, writes one every `CACHE_SNAPSHOT_INTERVAL` when the cache
/// changed, and a last one when cached drains.
///
/// Writes run on a queue of their own, never on a request's thread; the cache's lock is held only to
/// gather the entries (values are shared, not copied). After a SIGKILL the cache comes back as of the
/// last snapshot; entries stored since are lost (an empty or older cache is always correct).
final class SnapshotKeeper: Sendable {
    private let file: SnapshotFile
    private let cache: ResponseCache
    private let metrics: CacheMetrics
    private let logger: Logger
    private let interval: Duration
    private let clocks: @Sendable () -> ClockPair
    private let queue = DispatchQueue(label: "cached.snapshot")
    /// The generation of the last snapshot written or loaded.
    private let savedGeneration = Mutex<UInt64?>(nil)
    private let periodic = Mutex<Task<Void, Never>?>(nil)
    /// False once the state directory proved unusable: cached then runs without warm restarts.
    private let usable = Atomic<Bool>(true)

    /// A keeper for the snapshot in `directory`.
    /// - Parameters:
    ///   - directory: The state directory.
    ///   - cache: The memory tier.
    ///   - metrics: Where writes, failures and drops are counted.
    ///   - logger: Where they are logged.
    ///   - interval: Between periodic snapshots (zero: only when draining).
    ///   - clocks: Now on both clocks (tests move their own).
    init(
        directory: String, cache: ResponseCache, metrics: CacheMetrics, logger: Logger, interval: Duration,
        clocks: @escaping @Sendable () -> ClockPair = ClockPair.now
    ) {
        file = SnapshotFile(directory: directory)
        self.cache = cache
        self.metrics = metrics
        self.logger = logger
        self.interval = interval
        self.clocks = clocks
    }

    /// The snapshot's path, for logs and tests.
    var path: String { file.path }

    /// Loads the snapshot into the (empty) cache; a file that does not check out is logged, counted and
    /// set aside, and cached starts empty. A state directory that cannot be created or written in is
    /// logged, and cached runs without warm restarts (a cache is never worth refusing to start for).
    /// - Parameter maxSize: The largest believable file (see ``SnapshotFile/load(maxSize:)``).
    func load(maxSize: Int) {
        do {
            try file.prepare()
        } catch {
            usable.store(false, ordering: .relaxed)
            metrics.recordSnapshot(.failed)
            logger.error("state directory unusable: running without warm restarts", ["error": .string(error.description)])
            return
        }
        let clock = ContinuousClock()
        let started = clock.now
        switch file.load(maxSize: maxSize) {
        case .none:
            logger.info("no snapshot to load: starting empty", ["path": .string(file.path)])
        case .dropped(let reason):
            metrics.recordSnapshot(.dropped)
            logger.error("snapshot dropped, not loaded: starting empty", [
                "path": .string(file.path), "reason": .string(reason), "moved_to": .string(file.corruptPath),
            ])
        case .records(let writtenAt, let records, let bytes):
            let now = clocks()
            let (loaded, expired) = cache.restore(records, at: now)
            savedGeneration.withLock { $0 = cache.generation }
            metrics.recordSnapshotSize(entries: loaded)
            logger.info("snapshot loaded", [
                "path": .string(file.path), "entries": LogValue(loaded), "expired": LogValue(expired),
                "bytes": LogValue(bytes), "age_ms": LogValue(max(0, now.wall - writtenAt) / 1_000_000),
                "load_ms": LogValue((clock.now - started).nanoseconds / 1_000_000),
            ])
        }
    }

    /// Starts the periodic snapshots (none when the interval is zero).
    func start() {
        guard interval > .zero, usable.load(ordering: .relaxed) else { return }
        let task = Task { [weak self, interval] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let self else { return }
                await self.save(force: false)
            }
        }
        periodic.withLock { $0 = task }
    }

    /// Stops the periodic snapshots and writes a last one (when anything changed).
    func finish() async {
        periodic.withLock { $0?.cancel() }
        await save(force: false)
    }

    /// Writes a snapshot now if the cache changed since the last (or always, with `force`).
    func save(force: Bool) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                writeIfChanged(force: force)
                done.resume()
            }
        }
    }

    /// On the queue: gathers and writes.
    private func writeIfChanged(force: Bool) {
        guard usable.load(ordering: .relaxed) else { return }
        let generation = cache.generation
        if !force, savedGeneration.withLock({ $0 }) == generation { return }
        let now = clocks()
        let clock = ContinuousClock()
        let started = clock.now
        let (records, taken) = cache.snapshotRecords(at: now)
        do {
            let bytes = try file.write(records, writtenAt: now.wall)
            savedGeneration.withLock { $0 = taken }
            metrics.recordSnapshot(.written)
            metrics.recordSnapshotSize(entries: records.count)
            logger.debug("snapshot written", [
                "entries": LogValue(records.count), "bytes": LogValue(bytes),
                "write_ms": LogValue((clock.now - started).nanoseconds / 1_000_000),
            ])
        } catch {
            metrics.recordSnapshot(.failed)
            logger.error("snapshot not written: the previous one stays", ["path": .string(file.path), "error": .string(error.description)])
        }
    }
}

extension ClockPair {
    /// Now: the monotonic clock cached runs on and the wall clock.
    @Sendable static func now() -> ClockPair {
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        return ClockPair(monotonic: MonotonicClock.nowSigned(), wall: Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec))
    }
}
