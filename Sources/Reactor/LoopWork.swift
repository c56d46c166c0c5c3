/// One piece of work for a loop's thread: a job of a task that prefers the loop as its executor, or a
/// closure posted with ``EpollLoopCore/execute(_:)``.
enum LoopWork: @unchecked Sendable {
    // @unchecked: an `UnownedJob` is a handle the runtime hands over to exactly one executor, which runs
    // it once; the closure is `@Sendable`.
    case job(UnownedJob)
    case call(@Sendable () -> Void)
}
