/// One entry as the snapshot keeps it: times on the wall clock (a restart resets the monotonic clock),
/// the value unless the entry lives in Redis only, and its semantic key when it is indexed.
struct SnapshotRecord: Equatable, Sendable {
    /// The entry's value and model, held in memory.
    struct Stored: Equatable, Sendable {
        var model: String
        var value: [UInt8]
    }

    /// The entry's semantic key.
    struct Semantic: Equatable, Sendable {
        var group: String
        var vector: [Float]
    }

    var key: String
    /// nil for an index entry whose value is in Redis only.
    var stored: Stored?
    /// Nanoseconds since the Unix epoch.
    var storedAt: Int64
    /// Nanoseconds since the Unix epoch (`Int64.max`: never).
    var expiresAt: Int64
    var semantic: Semantic?
}

/// The two clocks at one moment, to move entry times between the monotonic clock the cache runs on and
/// the wall clock the snapshot (and Redis) keep them in. Saturating: `Int64.max` stays "never".
struct ClockPair: Sendable {
    /// Monotonic nanoseconds.
    let monotonic: Int64
    /// Nanoseconds since the Unix epoch.
    let wall: Int64

    /// A monotonic time as wall-clock time.
    func wall(fromMonotonic time: Int64) -> Int64 {
        time == .max ? .max : wall.addingSaturating(time &- monotonic)
    }

    /// A wall-clock time as monotonic time.
    func monotonic(fromWall time: Int64) -> Int64 {
        time == .max ? .max : monotonic.addingSaturating(time &- wall)
    }
}

extension FixedWidthInteger where Self: SignedInteger {
    /// `self + other`, held at `min`/`max` instead of overflowing.
    func addingSaturating(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
