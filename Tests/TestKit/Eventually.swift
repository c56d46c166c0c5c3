/// Polls `condition` every 10 ms until it holds or `limit` passes (for counters and states with no event
/// to wait on; a test that can be told uses a ``Latch``).
/// - Returns: Whether the condition held in time.
public func eventually(_ limit: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let end = ContinuousClock.now + limit
    while ContinuousClock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Polls an asynchronous `condition` (a call to a daemon) every 50 ms until it holds or `limit` passes.
/// - Returns: Whether the condition held in time.
/// - Throws: What `condition` throws.
public func eventually(within limit: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
    let end = ContinuousClock.now + limit
    while ContinuousClock.now < end {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
