/// What a restart takes from the journal: the event ids still inside the replay window, the finished
/// jobs (their results stay readable), and the accepted jobs with no recorded end, which run again.
/// Also the lines worth keeping, so the file can be rewritten without the rest.
struct JournalRecovery {
    /// An event id to remember for replay checks.
    struct SeenEvent: Equatable {
        var id: String
        var timestamp: Int
        var received: Int
    }

    /// Event ids whose replay window has not ended.
    var seen: [SeenEvent] = []
    /// Finished jobs, oldest end first, at most the store's capacity.
    var finished: [JournalRecord.JobEntry] = []
    /// Jobs accepted but never recorded as finished, in acceptance order: to run again.
    var unfinished: [JournalRecord.EventEntry] = []
    /// The lines still needed (in file order): events inside the window or with an unfinished job,
    /// and the kept finished jobs.
    var keptLines: [[UInt8]] = []
    /// Records read, and records no longer needed.
    var recordCount = 0
    var droppedCount = 0

    /// - Parameters:
    ///   - contents: The journal as read.
    ///   - now: Seconds since the epoch.
    ///   - window: WEBHOOK_TIMESTAMP_WINDOW.
    ///   - jobCapacity: JOBS_MAX: the most finished jobs worth keeping.
    init(_ contents: JournalReader.Contents, now: Int, window: Int, jobCapacity: Int) {
        recordCount = contents.records.count
        var endedJobs = Set<String>()
        var keptJobs = Set<String>()
        // The last `jobCapacity` job ends are kept; walk backwards to find them.
        for (record, _) in contents.records.reversed() {
            guard case .job(let j) = record else { continue }
            if endedJobs.insert(j.jobID).inserted, keptJobs.count < jobCapacity { keptJobs.insert(j.jobID) }
        }
        var keptJobLines = Set<String>()
        for (record, line) in contents.records {
            switch record {
            case .event(let e):
                let inWindow = max(e.timestamp, e.received) + window >= now
                if inWindow { seen.append(SeenEvent(id: e.id, timestamp: e.timestamp, received: e.received)) }
                let open = e.jobID.map { !endedJobs.contains($0) } ?? false
                if open { unfinished.append(e) }
                if inWindow || open { keptLines.append(line) } else { droppedCount += 1 }
            case .job(let j):
                // One end line per job; a second one for the same job adds nothing.
                if keptJobs.contains(j.jobID), keptJobLines.insert(j.jobID).inserted {
                    finished.append(j)
                    keptLines.append(line)
                } else {
                    droppedCount += 1
                }
            }
        }
    }

    /// Whether rewriting the file would shed anything.
    var worthRewriting: Bool { droppedCount > 0 }
}
