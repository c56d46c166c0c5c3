import Basics
import Dispatch
import Glibc
import Synchronization
import Wire

/// limitd's state on disk, in one directory (its `StateDirectory=`): `snapshot`, the whole state as of the
/// start of journal generation G, and `journal-G.log`, `journal-G+1.log`, …, every change since.
///
/// Group commit: changes are *staged* (``stage(_:)``) and written together, one frame with one `write(2)`
/// per batch; a batch is written when the turn of the IPC loop that staged it ends (its handlers have
/// all run), or at once when staged elsewhere (``init(directory:deferFlush:answerAfterSync:)``). A caller answers only
/// once its batch is written (``whenWritten(_:)``) or fsync'd (``whenDurable(_:)``); one fsync covers every
/// batch written before it starts.
///
/// A frame is `u32 length · u32 CRC-32 · payload` (big-endian), the payload a count and that many
/// ``JournalRecord``s. A crash can tear only the last frame of the newest journal; reading stops at the
/// first frame whose length or checksum does not hold and drops the rest.
///
/// Durability: a written batch is in the kernel, so it survives the process being killed (SIGKILL, a
/// crash, a restart); it survives the machine losing power only once fsync'd.
final class StateJournal: Sendable {
    /// The directory.
    let directory: String
    private let state: Mutex<State>
    /// Runs a flush when the current loop turn ends (see ``init(directory:deferFlush:answerAfterSync:)``).
    private let deferFlush: @Sendable (@escaping @Sendable () -> Void) -> Void
    /// Runs the answers an fsync released.
    private let answerAfterSync: @Sendable (@escaping @Sendable () -> Void) -> Void
    /// Where fsyncs run, one after another, so a burst of settlements shares each one.
    private let syncQueue = DispatchQueue(label: "limitd.journal-sync")

    private struct State {
        var descriptor: Int32 = -1
        var generation: UInt64 = 0
        /// Bytes written since start, over every generation.
        var written: UInt64 = 0
        /// The records of the batch being staged, encoded, and how many.
        var staged = WireWriter(reservingCapacity: 4096)
        var stagedCount = 0
        /// Batches are numbered from 1: the one being staged, the last written, the last fsync'd.
        var stagedBatch: UInt64 = 1
        var writtenBatch: UInt64 = 0
        var durableBatch: UInt64 = 0
        /// Whether a flush of the staged batch is already on its way.
        var flushScheduled = false
        /// Whether an fsync is running (or about to).
        var syncing = false
        /// Answers waiting for their batch to be written, and for it to be fsync'd.
        var writeWaiters: [(batch: UInt64, action: @Sendable () -> Void)] = []
        var syncWaiters: [(batch: UInt64, action: @Sendable () -> Void)] = []
        /// The first write or fsync error not yet reported.
        var failure: String?
    }

    /// The snapshot file's first bytes, and its format version.
    static let magic = Array("INFERLIM".utf8)
    static let formatVersion: UInt32 = 1
    /// Largest frame read back (a snapshot is written in frames of ``snapshotRecordsPerFrame`` records).
    static let maxFrame = 64 << 20
    static let snapshotRecordsPerFrame = 4096

    /// What reading the state back found.
    struct LoadReport: Sendable, Equatable {
        /// Records applied.
        var records = 0
        /// Bytes dropped after a torn or corrupt frame.
        var droppedBytes = 0
        /// The snapshot's generation (0 when there was none).
        var snapshotGeneration: UInt64 = 0
        /// Journal files read.
        var journals = 0
    }

    /// Why the state could not be read or written.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// A journal in `directory`, created (mode 0700) when missing; nothing is read or opened yet.
    /// - Parameters:
    ///   - deferFlush: Given the flush of a batch when its first record is staged: runs it once the work
    ///     of the current loop turn is done (limitd: ``IPCLoopTurn/deferFlush(_:)``). The default runs it
    ///     at once, so each change is its own batch.
    ///   - answerAfterSync: Given the answers an fsync released (on the fsync's thread): runs them where
    ///     their replies share sends (limitd: ``IPCLoopTurn/onLoop(_:)``). The default runs them there and then.
    /// - Throws: ``Failure`` when the directory cannot be made.
    init(directory: String,
         deferFlush: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void = { $0() },
         answerAfterSync: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void = { $0() }) throws(Failure) {
        self.directory = directory
        self.deferFlush = deferFlush
        self.answerAfterSync = answerAfterSync
        state = Mutex(State())
        do throws(FileError) {
            try FileIO.makeDirectories(directory)
        } catch {
            throw Failure(description: "the state directory: \(error)")
        }
    }

    deinit {
        state.withLock { if $0.descriptor >= 0 { close($0.descriptor) } }
    }

    // MARK: Reading back

    /// Reads the snapshot and every journal after it into `ledger`, then writes a fresh snapshot of the
    /// result and starts a new journal generation (so nothing is ever appended after a torn frame).
    /// - Throws: ``Failure`` when a file cannot be read, or the snapshot is not a limitd snapshot.
    func load(into ledger: inout LimitLedger) throws(Failure) -> LoadReport {
        var report = LoadReport()
        var generation: UInt64 = 0
        if let bytes = try readFile(path("snapshot")) {
            guard bytes.count >= 20, Array(bytes[0..<8]) == Self.magic else {
                throw Failure(description: "\(path("snapshot")) is not a limitd snapshot (move it away to start empty)")
            }
            var reader = WireReader(Array(bytes[8..<20]))
            let version = (try? reader.readUInt32()) ?? 0
            guard version == Self.formatVersion else {
                throw Failure(description: "\(path("snapshot")): format version \(version), expected \(Self.formatVersion)")
            }
            generation = (try? reader.readUInt64()) ?? 0
            report.snapshotGeneration = generation
            let (records, dropped) = Self.frames(bytes[20...])
            guard dropped == 0 else {
                // A snapshot is renamed into place only once whole and fsync'd: a bad frame is damage, not a crash.
                throw Failure(description: "\(path("snapshot")) is damaged (\(dropped) bytes unreadable); move it away to start from the journals alone")
            }
            for record in records { ledger.apply(record) }
            report.records += records.count
        }
        for journal in journalGenerations() where journal >= generation {
            guard let bytes = try readFile(path(Self.journalName(journal))) else { continue }
            let (records, dropped) = Self.frames(bytes[...])
            for record in records { ledger.apply(record) }
            report.records += records.count
            report.droppedBytes += dropped
            report.journals += 1
            generation = max(generation, journal)
        }
        ledger.finishReading()
        try writeSnapshot(ledger.snapshot(), generation: generation + 1)
        try open(generation: generation + 1)
        return report
    }

    /// The records of the whole frames at the start of `bytes`, and how many bytes follow the last one.
    static func frames(_ bytes: ArraySlice<UInt8>) -> ([JournalRecord], Int) {
        var records: [JournalRecord] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 8 {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let crc = UInt32(bytes[offset + 4]) << 24 | UInt32(bytes[offset + 5]) << 16 | UInt32(bytes[offset + 6]) << 8 | UInt32(bytes[offset + 7])
            guard length <= maxFrame, bytes.endIndex - offset - 8 >= length else { break }
            let payload = bytes[(offset + 8)..<(offset + 8 + length)]
            guard CRC32.checksum(payload) == crc else { break }
            var reader = WireReader(Array(payload))
            guard let count = try? reader.readCount(maxCount: maxFrame, minElementSize: 9) else { break }
            var frame: [JournalRecord] = []
            for _ in 0..<count {
                guard let record = try? JournalRecord(from: &reader) else { break }
                frame.append(record)
            }
            guard frame.count == count, reader.isAtEnd else { break }
            records += frame
            offset += 8 + length
        }
        return (records, bytes.endIndex - offset)
    }

    /// One frame holding `records`.
    static func frame(_ records: some Collection<JournalRecord>) -> [UInt8] {
        var payload = WireWriter(reservingCapacity: 128 * records.count)
        payload.writeCount(records.count)
        for record in records { record.encode(to: &payload) }
        var header = WireWriter(reservingCapacity: 8)
        header.writeUInt32(UInt32(payload.count))
        header.writeUInt32(CRC32.checksum(payload.bytes))
        return header.bytes + payload.bytes
    }

    // MARK: Group commit

    /// Adds `records` to the batch being staged (call it where the state changes, so the journal's order
    /// is the state's); the batch is written by the flush this schedules.
    func stage(_ records: [JournalRecord]) {
        guard !records.isEmpty else { return }
        let schedule = state.withLock { state -> Bool in
            for record in records { record.encode(to: &state.staged) }
            state.stagedCount += records.count
            guard !state.flushScheduled else { return false }
            state.flushScheduled = true
            return true
        }
        if schedule { deferFlush { [self] in flush() } }
    }

    /// Runs `action` once everything staged so far is written (at once when it is).
    func whenWritten(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            guard state.stagedCount > 0 else { return true }
            state.writeWaiters.append((state.stagedBatch, action))
            return false
        }
        if now { action() }
    }

    /// Runs `action` once everything staged so far is fsync'd (at once when it is; else through
    /// `answerAfterSync`).
    func whenDurable(_ action: @escaping @Sendable () -> Void) {
        let (now, sync) = state.withLock { state -> (Bool, Bool) in
            let batch = state.stagedCount > 0 ? state.stagedBatch : state.writtenBatch
            guard batch > state.durableBatch, state.descriptor >= 0 else { return (true, false) }
            state.syncWaiters.append((batch, action))
            // A batch still being staged starts its fsync once written (``flush()``).
            return (false, batch <= state.writtenBatch && Self.claimSync(&state))
        }
        if now { action() }
        if sync { syncQueue.async { [self] in syncWritten() } }
    }

    /// Writes the staged batch as one frame with one `write(2)`, runs the answers that waited for it, and
    /// starts an fsync when some wait for one.
    func flush() {
        let (written, sync) = state.withLock { state -> ([@Sendable () -> Void], Bool) in
            state.flushScheduled = false
            writeStaged(&state)
            var ready: [@Sendable () -> Void] = []
            if !state.writeWaiters.isEmpty {
                ready = state.writeWaiters.map(\.action)
                state.writeWaiters.removeAll(keepingCapacity: true)
            }
            let sync = state.syncWaiters.contains { $0.batch <= state.writtenBatch } && Self.claimSync(&state)
            return (ready, sync)
        }
        for action in written { action() }
        if sync { syncQueue.async { [self] in syncWritten() } }
    }

    /// Writes the staged records as one frame (under the lock), numbering the batch written.
    private func writeStaged(_ state: inout State) {
        guard state.stagedCount > 0 else { return }
        var payload = WireWriter(reservingCapacity: state.staged.count + 4)
        payload.writeCount(state.stagedCount)
        payload.writeRawBytes(state.staged.bytes)
        state.staged = WireWriter(reservingCapacity: 4096)
        state.stagedCount = 0
        var bytes = WireWriter(reservingCapacity: payload.count + 8)
        bytes.writeUInt32(UInt32(payload.count))
        bytes.writeUInt32(CRC32.checksum(payload.bytes))
        bytes.writeRawBytes(payload.bytes)
        if state.descriptor >= 0 {
            do throws(FileError) {
                try FileIO.writeAll(state.descriptor, bytes.bytes, path: path(Self.journalName(state.generation)))
            } catch {
                state.failure = state.failure ?? "write \(Self.journalName(state.generation)): \(errorText(error.code))"
            }
        }
        state.written += UInt64(bytes.count)
        state.writtenBatch = state.stagedBatch
        state.stagedBatch += 1
    }

    /// Takes the right to start the fsync; false when one is already running (it takes over what waits).
    private static func claimSync(_ state: inout State) -> Bool {
        guard !state.syncing else { return false }
        state.syncing = true
        return true
    }

    /// fsyncs while answers wait for batches already written, running each once its batch is on disk
    /// (on ``syncQueue``).
    private func syncWritten() {
        while true {
            let (descriptor, target): (Int32, UInt64) = state.withLock { state in
                // A duplicate, so that a rotation closing the journal meanwhile does not close it under the fsync.
                (state.descriptor >= 0 ? dup(state.descriptor) : -1, state.writtenBatch)
            }
            let error: String? = descriptor < 0 ? nil : (fsync(descriptor) == 0 ? nil : errorText(errno))
            if descriptor >= 0 { close(descriptor) }
            let (ready, again) = state.withLock { state -> ([@Sendable () -> Void], Bool) in
                if let error { state.failure = state.failure ?? "fsync: \(error)" } else { state.durableBatch = max(state.durableBatch, target) }
                // A failed fsync still answers: the failure is logged and counted, and waiting would not help.
                let reached = error == nil ? state.durableBatch : target
                var ready: [@Sendable () -> Void] = []
                state.syncWaiters.removeAll { waiter in
                    guard waiter.batch <= reached else { return false }
                    ready.append(waiter.action)
                    return true
                }
                let again = state.syncWaiters.contains { $0.batch <= state.writtenBatch }
                if !again { state.syncing = false }
                return (ready, again)
            }
            if !ready.isEmpty { answerAfterSync { for action in ready { action() } } }
            if !again { return }
        }
    }

    /// Returns once everything staged so far is fsync'd.
    func sync() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            whenDurable { done.resume() }
        }
    }

    /// The first write or fsync error since the last call (then cleared), for the log.
    func takeFailure() -> String? {
        state.withLock { state in
            defer { state.failure = nil }
            return state.failure
        }
    }

    /// Bytes appended since start.
    var written: UInt64 { state.withLock { $0.written } }

    // MARK: Snapshots

    /// Starts the next journal generation (the current one fsync'd and closed); call it with the state
    /// the snapshot is taken of held still, so the snapshot and the new journal meet exactly.
    /// - Returns: The new generation, for ``writeSnapshot(_:generation:)``.
    func rotate() throws(Failure) -> UInt64 {
        let next = state.withLock { $0.generation + 1 }
        try open(generation: next)
        return next
    }

    /// Writes the state as of the start of journal `generation` (a temporary file, fsync'd, renamed over the
    /// old snapshot, the directory fsync'd), then removes the journals it replaces.
    func writeSnapshot(_ records: [JournalRecord], generation: UInt64) throws(Failure) {
        var header = WireWriter(reservingCapacity: 20)
        header.writeRawBytes(Self.magic)
        header.writeUInt32(Self.formatVersion)
        header.writeUInt64(generation)
        var bytes = header.bytes
        var start = 0
        while start < records.count {
            let end = min(records.count, start + Self.snapshotRecordsPerFrame)
            bytes += Self.frame(records[start..<end])
            start = end
        }
        do throws(FileError) {
            try FileIO.replace(path("snapshot"), temporary: path("snapshot.tmp"), with: bytes)
        } catch {
            throw Failure(description: error.description)
        }
        removeJournals(before: generation)
    }

    // MARK: Files

    private func open(generation: UInt64) throws(Failure) {
        let file = path(Self.journalName(generation))
        let descriptor = Glibc.open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Failure(description: "cannot open \(file): \(errorText(errno))") }
        state.withLock { state in
            if state.descriptor >= 0 {
                // What is staged belongs to the state before the snapshot: it goes into the old generation,
                // which is made durable before the new one takes over. (Its answers run at the flush.)
                writeStaged(&state)
                if fsync(state.descriptor) == 0 { state.durableBatch = state.writtenBatch }
                close(state.descriptor)
            }
            state.descriptor = descriptor
            state.generation = generation
        }
        // The new journal's entry, durable on the next fsync of the directory at the latest; a failure
        // here loses nothing the journal has acknowledged.
        try? FileIO.syncDirectory(directory)
    }

    static func journalName(_ generation: UInt64) -> String { "journal-\(generation).log" }

    private func path(_ name: String) -> String { directory + "/" + name }

    /// The generations of the journal files present, ascending.
    private func journalGenerations() -> [UInt64] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var generations: [UInt64] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix("journal-"), name.hasSuffix(".log"), let g = UInt64(name.dropFirst(8).dropLast(4)) { generations.append(g) }
        }
        return generations.sorted()
    }

    private func removeJournals(before generation: UInt64) {
        for old in journalGenerations() where old < generation { unlink(path(Self.journalName(old))) }
    }

    /// The file's bytes, or nil when it does not exist.
    private func readFile(_ file: String) throws(Failure) -> [UInt8]? {
        let descriptor = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw Failure(description: "cannot read \(file): \(errorText(errno))")
        }
        defer { close(descriptor) }
        do throws(FileError) {
            return try FileIO.readAll(descriptor, path: file)
        } catch {
            throw Failure(description: error.description)
        }
    }
}
