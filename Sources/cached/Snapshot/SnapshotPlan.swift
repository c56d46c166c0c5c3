/// Where and how often cached keeps its snapshot.
struct SnapshotPlan: Sendable {
    /// The state directory.
    var directory: String
    /// Between periodic snapshots (zero: only on drain).
    var interval: Duration
    /// The largest snapshot file believed at start.
    var maxSize: Int

    /// The largest file a snapshot can be under these bounds: every key and value byte, plus each record's
    /// framing, model name and times, plus a full semantic key (group and a vector of the largest
    /// dimension) per indexed entry. A larger file is dropped unread, so loading takes bounded time.
    static func maxSize(maxEntries: Int, maxBytes: Int, maxIndexed: Int) -> Int {
        let perEntry = 1 + 3 * 4 + 256 + 2 * 8
        let perIndexed = 1 + 4 + 1024 + 2 * 8 + 4 + 1024 + 4 + 4 * UnitVector.maxDimension
        let framing = SnapshotCodec.headerSize + SnapshotCodec.trailerSize
        let (entries, o1) = maxEntries.multipliedReportingOverflow(by: perEntry)
        let (indexed, o2) = maxIndexed.multipliedReportingOverflow(by: perIndexed)
        guard !o1, !o2 else { return .max }
        return framing.addingSaturating(maxBytes).addingSaturating(entries).addingSaturating(indexed)
    }
}
