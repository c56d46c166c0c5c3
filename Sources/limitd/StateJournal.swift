import Basics
import Glibc
import Synchronization
import Wire

/// limitd's state on disk, in one directory (its `StateDirectory=`): `snapshot`, the whole state as of the
/// start of journal generation G, and `journal-G.log`, `journal-G+1.log`, …, every change since, each
/// change a frame appended with one `write(2)` before its caller answers.
///
/// A frame is `u32 length · u32 CRC-32 · payload` (big-endian), the payload a count and that many
/// ``JournalRecord``s. A crash can tear only the last frame of the newest journal; reading stops at the
/// first frame whose length or checksum does not hold and drops the rest.
///
/// Durability: an appended frame is in the kernel once ``append(_:)`` returns, so it survives the process
/// being killed (SIGKILL, a crash, a restart); it survives the machine losing power only once
/// ``sync(through:)`` has returned past it (an `fsync(2)`, shared by every caller waiting at the time).
final class StateJournal: Sendable {
    /// The directory.
    let directory: String
    private let state: Mutex<State>

    private struct State {
        var descriptor: Int32 = -1
        var generation: UInt64 = 0
        /// Bytes appended since start, over every generation: the journal's logical offset.
        var written: UInt64 = 0
        /// The offset up to which an fsync has returned.
        var durable: UInt64 = 0
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
    /// - Throws: ``Failure`` when the directory cannot be made.
    init(directory: String) throws(Failure) {
        self.directory = directory
        state = Mutex(State())
        try Self.makeDirectories(directory)
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

    // MARK: Appending

    /// Appends one frame of `records` with one `write(2)`.
    /// - Returns: The journal's logical offset after it (for ``sync(through:)``).
    @discardableResult
    func append(_ records: [JournalRecord]) -> UInt64 {
        guard !records.isEmpty else { return state.withLock { $0.written } }
        let bytes = Self.frame(records)
        return state.withLock { state in
            if state.descriptor >= 0, let error = Self.writeAll(state.descriptor, bytes) {
                state.failure = state.failure ?? "write \(Self.journalName(state.generation)): \(error)"
            }
            state.written += UInt64(bytes.count)
            return state.written
        }
    }

    /// Returns once everything appended up to `offset` is on disk: one `fsync(2)` covers every frame
    /// written before it starts, so callers arriving together share it.
    func sync(through offset: UInt64) {
        let (descriptor, target): (Int32, UInt64) = state.withLock { state in
            guard state.durable < offset, state.descriptor >= 0 else { return (-1, 0) }
            // A duplicate, so that a rotation closing the journal meanwhile does not close it under the fsync.
            return (dup(state.descriptor), state.written)
        }
        guard descriptor >= 0 else { return }
        let result = fsync(descriptor)
        let error = result == 0 ? nil : errorText(errno)
        close(descriptor)
        state.withLock { state in
            if let error { state.failure = state.failure ?? "fsync: \(error)" } else { state.durable = max(state.durable, target) }
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
        let temporary = path("snapshot.tmp")
        let descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Failure(description: "cannot create \(temporary): \(errorText(errno))") }
        if let error = Self.writeAll(descriptor, bytes) {
            close(descriptor)
            throw Failure(description: "cannot write \(temporary): \(error)")
        }
        guard fsync(descriptor) == 0 else {
            let error = errorText(errno)
            close(descriptor)
            throw Failure(description: "cannot fsync \(temporary): \(error)")
        }
        close(descriptor)
        guard rename(temporary, path("snapshot")) == 0 else {
            throw Failure(description: "cannot rename \(temporary): \(errorText(errno))")
        }
        syncDirectory()
        removeJournals(before: generation)
    }

    // MARK: Files

    private func open(generation: UInt64) throws(Failure) {
        let file = path(Self.journalName(generation))
        let descriptor = Glibc.open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Failure(description: "cannot open \(file): \(errorText(errno))") }
        state.withLock { state in
            if state.descriptor >= 0 {
                // Everything in the old generation is made durable before the new one takes over.
                if fsync(state.descriptor) == 0 { state.durable = state.written }
                close(state.descriptor)
            }
            state.descriptor = descriptor
            state.generation = generation
        }
        syncDirectory()
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

    private func syncDirectory() {
        let descriptor = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
    }

    /// The file's bytes, or nil when it does not exist.
    private func readFile(_ file: String) throws(Failure) -> [UInt8]? {
        let descriptor = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw Failure(description: "cannot read \(file): \(errorText(errno))")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(descriptor, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw Failure(description: "cannot read \(file): \(errorText(errno))") }
            if n == 0 { return bytes }
            bytes.append(contentsOf: buffer[0..<n])
        }
    }

    /// Writes all of `bytes`; the error text, or nil.
    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) -> String? {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return errorText(errno) }
            done += n
        }
        return nil
    }

    /// `mkdir -p` with mode 0700 for what it creates.
    private static func makeDirectories(_ directory: String) throws(Failure) {
        var path = ""
        for part in directory.split(separator: "/") {
            path += "/" + part
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw Failure(description: "cannot create the state directory \(path): \(errorText(errno))")
            }
        }
    }
}
