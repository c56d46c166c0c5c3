/// A test step took longer than its bound.
public struct TestTimeout: Error, CustomStringConvertible {
    /// What was being waited for.
    public let what: String

    public init(what: String) { self.what = what }

    public var description: String { "timed out: \(what)" }
}

/// Runs `operation`, failing with ``TestTimeout`` if it takes longer than `limit` (the operation is
/// cancelled then).
/// - Parameters:
///   - limit: The longest the operation may take.
///   - what: Named in the error.
///   - operation: The step.
/// - Returns: What the operation returned.
/// - Throws: What the operation threw, or ``TestTimeout``.
public func withTimeout<T: Sendable>(
    _ limit: Duration, _ what: String = "operation", _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TestTimeout(what: what)
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw TestTimeout(what: what) }
        return result
    }
}
