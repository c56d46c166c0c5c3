import Basics
import Glibc
import Synchronization
import Testing

@testable import Reactor

/// The loop core on its own: work and timers run on its thread, a task may prefer it, and after it
/// finishes no task is lost.
@Suite("Reactor's epoll loop core")
struct EpollLoopCoreTests {
    /// A core whose thread runs until ``stop()``, then finishes.
    private static func running(_ name: String) throws -> EpollLoopCore {
        let core = try EpollLoopCore()
        try core.start(name: name) {
            core.run { _ in }
            core.finish()
        }
        return core
    }

    @Test("work posted from one thread runs on the loop's thread in order; work posted on the loop runs after, not inline")
    func postedWork() async throws {
        let core = try Self.running("test-post")
        let order = Mutex<[String]>([])
        let onLoop = Mutex<[Bool]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            // Resumed by whichever of the last two runs second.
            let append = { @Sendable (entry: String) in
                if order.withLock({ $0.append(entry); return $0.count == 4 }) { done.resume() }
            }
            core.execute {
                append("first")
                onLoop.withLock { $0.append(core.inLoop) }
                core.execute { append("posted on the loop") }
                append("first, done")
            }
            core.execute { append("second") }
        }
        let seen = order.withLock { $0 }
        #expect(seen.count == 4)
        #expect(seen.prefix(2) == ["first", "first, done"])
        #expect(seen.firstIndex(of: "second").map { $0 > 1 } == true)
        #expect(onLoop.withLock { $0 } == [true])
        #expect(!core.inLoop)
        core.stop()
    }

    @Test("timers fire in deadline order, a cancelled one never, one scheduled earlier than the planned wake wakes the loop")
    func timers() async throws {
        let core = try Self.running("test-timers")
        let fired = Mutex<[Int]>([])
        let start = MonotonicClock.now()
        // A far timer first, so the loop plans a long sleep; the nearer ones must wake it.
        core.schedule(at: start + 60_000_000_000) { fired.withLock { $0.append(99) } }
        let cancelled = core.schedule(at: start + 200_000_000) { fired.withLock { $0.append(0) } }
        core.cancel(cancelled)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            core.schedule(at: start + 250_000_000) {
                fired.withLock { $0.append(2) }
                done.resume()
            }
            core.schedule(at: start + 10_000_000) { fired.withLock { $0.append(1) } }
        }
        #expect(fired.withLock { $0 } == [1, 2])
        #expect(MonotonicClock.now() - start >= 250_000_000)
        core.stop()
    }

    @Test("a task preferring the core runs its jobs on the loop's thread; after finish its jobs go elsewhere")
    func executor() async throws {
        let core = try Self.running("test-executor")
        let onLoop = await Task(executorPreference: core) { core.inLoop }.value
        #expect(onLoop)
        core.stop()
        let deadline = MonotonicClock.now() + 5_000_000_000
        while !core.isFinished && MonotonicClock.now() < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(core.isFinished)
        // The loop is gone: the task must still run (on the global executor), not hang.
        let ran = await Task(executorPreference: core) { !core.inLoop }.value
        #expect(ran)
    }
}
