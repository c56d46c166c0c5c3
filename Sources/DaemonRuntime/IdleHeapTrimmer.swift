import CLinux
import Dispatch
import Glibc
import Synchronization

/// When to give the heap's free memory back: after the process has been busy, at the first quiet
/// period (under `quietCPU` of CPU time in a period). A burst of requests leaves glibc's per-thread
/// arenas holding what it freed (frontd: ~47 MiB after three seconds at 16 connections, back to its
/// idle 33 MiB once trimmed); trimming only once the burst is over keeps the cost (a walk of the
/// arenas, pages faulted in again later) out of busy periods.
struct IdleTrimPolicy: Equatable {
    /// Less CPU time than this in one period counts as quiet.
    let quietCPU: Duration
    /// Busy since the last trim (true at start: starting allocates and frees too).
    private(set) var busySinceTrim = true

    init(quietCPU: Duration) { self.quietCPU = quietCPU }

    /// Takes the CPU time the process spent in the last period; true when the heap should be trimmed now.
    mutating func shouldTrim(cpuSpent: Duration) -> Bool {
        if cpuSpent >= quietCPU {
            busySinceTrim = true
            return false
        }
        defer { busySinceTrim = false }
        return busySinceTrim
    }
}

/// Every `period`, reads the process's CPU time and trims the heap (malloc_trim) at the first quiet
/// period after a busy one (`IdleTrimPolicy`).
final class IdleHeapTrimmer: Sendable {
    /// Time between two looks: short enough that an idle daemon is back at its idle size within seconds.
    static let period = Duration.seconds(5)
    /// 1 % of a core over the period: an idle daemon's timers stay far below it, a request burst above.
    static let quietCPU = Duration.milliseconds(50)

    private struct State {
        var policy = IdleTrimPolicy(quietCPU: IdleHeapTrimmer.quietCPU)
        var lastCPU: Duration
    }

    private let state: Mutex<State>
    private let timer: DispatchSourceTimerBox

    /// Starts looking on `queue`.
    init(queue: DispatchQueue) {
        state = Mutex(State(lastCPU: Self.processCPUTime()))
        let source = DispatchSource.makeTimerSource(queue: queue)
        let nanoseconds = Int(Self.period.components.seconds) * 1_000_000_000
        source.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds),
                        leeway: .nanoseconds(nanoseconds / 10))
        timer = DispatchSourceTimerBox(source)
        source.setEventHandler { [weak self] in self?.tick() }
        source.activate()
    }

    deinit { timer.cancel() }

    private func tick() {
        let now = Self.processCPUTime()
        let trim = state.withLock { state in
            defer { state.lastCPU = now }
            return state.policy.shouldTrim(cpuSpent: now - state.lastCPU)
        }
        if trim { _ = clinux_release_free_heap() }
    }

    /// CPU time of all the process's threads so far.
    static func processCPUTime() -> Duration {
        var spec = timespec()
        guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec) == 0 else { return .zero }
        return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
    }
}
