import Foundation
import Glibc
import Services
import Synchronization
import Testing
import TestKit

@testable import limitd

/// limitd's state on disk: what one limiter wrote, another reads back exactly, across snapshots and a
/// journal torn by a crash.
@Suite("Limit: the state journal and snapshots")
struct StateJournalTests {
    static let defaults = LimitDefaults(requestsPerMinute: 2, window: .seconds(60), tokensPerMinute: 1000, maxParallel: 3)
    static let budget = LimitProtocol.Budget(maxNanoUSD: 5000, period: "1d", anchor: 0)

    static func limiter(_ directory: String) throws -> RateLimiter {
        let limiter = RateLimiter(defaults: defaults, maxKeys: 100, journal: try StateJournal(directory: directory))
        _ = try limiter.load()
        return limiter
    }

    static func reserve(_ key: String, tokens: UInt32, cost: UInt64) -> LimitProtocol.Reserve {
        LimitProtocol.Reserve(reservation: 0, key: key, model: "m", route: "/", tokens: tokens, costNanoUSD: cost, budget: budget, leaseMs: 60_000)
    }

    /// Everything a restart must keep: rate records, spend, reservations.
    static func state(_ limiter: RateLimiter, now: Int64) -> (LimitProtocol.UsageReply, LimitProtocol.UsageReply, LimitProtocol.SpendListReply, Int) {
        (limiter.usage(LimitProtocol.Usage(key: "key:a", budget: budget), now: now),
         limiter.usage(LimitProtocol.Usage(key: "key:b", budget: budget), now: now), limiter.spendList(), limiter.heldReservations)
    }

    @Test("a new limiter on the same directory has every counter, reservation and spend; after a snapshot too")
    func roundTrip() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("limits")
        let now = 1_000 * second
        let first = try Self.limiter(path)
        let held = first.reserve(Self.reserve("key:a", tokens: 300, cost: 1000), now: now)
        let open = first.reserve(Self.reserve("key:a", tokens: 200, cost: 900), now: now)
        #expect(held.outcome == .allowed && open.outcome == .allowed)
        #expect(await first.commit(LimitProtocol.Commit(reservation: held.reservation, promptTokens: 10, completionTokens: 20, costNanoUSD: 120), now: now) == .settled)
        _ = first.reserve(Self.reserve("key:b", tokens: 10, cost: 1), now: now)
        _ = first.admit(key: "ip:10.0.0.1", now: now)
        let before = Self.state(first, now: now)
        #expect(before.0.budget.spentNanoUSD == 120 && before.0.budget.reservedNanoUSD == 900 && before.3 == 2)

        let second = try Self.limiter(path)
        let after = Self.state(second, now: now)
        #expect(after.0 == before.0 && after.1 == before.1 && after.2 == before.2 && after.3 == before.3)
        #expect(second.record(for: "ip:10.0.0.1") == first.record(for: "ip:10.0.0.1"))
        // The open reservation is still there to settle.
        #expect(await second.commit(LimitProtocol.Commit(reservation: open.reservation, completionTokens: 5, costNanoUSD: 50), now: now) == .settled)

        // A snapshot, more changes, then a third limiter.
        try second.snapshot(now: now)
        _ = second.reserve(Self.reserve("key:b", tokens: 10, cost: 7), now: now)
        let third = try Self.limiter(path)
        let last = Self.state(third, now: now)
        #expect(last.0 == Self.state(second, now: now).0 && last.2 == Self.state(second, now: now).2)
        #expect(last.0.budget.spentNanoUSD == 170 && last.0.budget.reservedNanoUSD == 0 && last.3 == 2)
        // Only the newest snapshot and one journal remain.
        let files = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        #expect(files.count == 2 && files.contains("snapshot") && files.contains { $0.hasPrefix("journal-") }, "\(files)")
    }

    @Test("a frame torn by a crash is dropped and everything before it kept")
    func tornTail() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("limits")
        let first = try Self.limiter(path)
        let held = first.reserve(Self.reserve("key:a", tokens: 10, cost: 10), now: 0)
        _ = await first.commit(LimitProtocol.Commit(reservation: held.reservation, costNanoUSD: 10), now: 0)
        let journal = try #require(try FileManager.default.contentsOfDirectory(atPath: path).first { $0.hasPrefix("journal-") })
        // Half of a frame: a length that promises more than follows.
        let handle = try #require(FileHandle(forWritingAtPath: path + "/" + journal))
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3]))
        try handle.close()
        let second = RateLimiter(defaults: Self.defaults, maxKeys: 100, journal: try StateJournal(directory: path))
        let report = try second.load()
        #expect(report.droppedBytes == 11)
        #expect(second.spendList().keys.first?.totalSpentNanoUSD == 10)
    }

    @Test("frames read back whole or not at all, fed in every prefix", arguments: [0, 1, 7, 8, 20])
    func framePrefixes(cut: Int) {
        let records: [JournalRecord] = [.finished(7), .rate("k", KeyRecord(theoreticalArrival: 5, promptTokens: 2))]
        let frame = StateJournal.frame(records)
        let (all, rest) = StateJournal.frames(frame[...])
        #expect(all == records && rest == 0)
        let prefix = Array(frame.prefix(min(cut, frame.count - 1)))
        let (none, left) = StateJournal.frames(prefix[...])
        #expect(none.isEmpty && left == prefix.count)
        // A flipped byte fails the checksum.
        var damaged = frame
        damaged[damaged.count - 1] ^= 1
        #expect(StateJournal.frames(damaged[...]).0.isEmpty)
    }

    @Test("CRC-32 is zlib's")
    func crc() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
    }

    @Test("a snapshot that is not limitd's stops the read-back with a message naming it")
    func badSnapshot() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("limits")
        _ = try StateJournal(directory: path)
        try Data("not a snapshot at all".utf8).write(to: URL(fileURLWithPath: path + "/snapshot"))
        let limiter = RateLimiter(defaults: Self.defaults, maxKeys: 10, journal: try StateJournal(directory: path))
        #expect { try limiter.load() } throws: { "\($0)".contains(path + "/snapshot") }
    }

    /// The flushes a journal asked for, run when the test says the loop turn is over.
    final class ManualTurn: Sendable {
        private let pending = Mutex<[@Sendable () -> Void]>([])
        func deferFlush(_ flush: @escaping @Sendable () -> Void) { pending.withLock { $0.append(flush) } }
        var waiting: Int { pending.withLock { $0.count } }
        func endTurn() {
            for flush in pending.withLock({ p in defer { p = [] }; return p }) { flush() }
        }
    }

    /// The journal file's frames: how many, and the records in each.
    static func frames(_ path: String) throws -> [Int] {
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: path).first { $0.hasPrefix("journal-") })
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))[...])
        var counts: [Int] = []
        while !bytes.isEmpty {
            let length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
            let frame = Array(bytes[0..<(8 + length)])
            counts.append(StateJournal.frames(frame[...]).0.count)
            bytes.removeFirst(8 + length)
        }
        return counts
    }

    @Test("group commit: a turn's changes are one frame, written before any reply; a settlement's reply waits for its fsync")
    func groupCommit() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("limits")
        let turn = ManualTurn()
        let limiter = RateLimiter(defaults: Self.defaults, maxKeys: 100,
                                  journal: try StateJournal(directory: path, deferFlush: turn.deferFlush))
        _ = try limiter.load()
        let now = 1_000 * second
        let replies = Mutex<[String]>([])
        // One turn: three admissions and a settlement; nothing is answered before the turn ends.
        let a = limiter.reserve(Self.reserve("key:a", tokens: 10, cost: 1), now: now)
        limiter.whenRecorded(durable: false) { replies.withLock { $0.append("a") } }
        let b = limiter.reserve(Self.reserve("key:b", tokens: 10, cost: 1), now: now)
        limiter.whenRecorded(durable: false) { replies.withLock { $0.append("b") } }
        _ = await limiter.commit(LimitProtocol.Commit(reservation: a.reservation, promptTokens: 1, costNanoUSD: 1, final: true), now: now)
        let settled = Latch()
        limiter.whenRecorded(durable: true) {
            replies.withLock { $0.append("commit") }
            settled.signal()
        }
        #expect(b.outcome == .allowed && turn.waiting == 1)
        #expect(try Self.frames(path).isEmpty && replies.withLock { $0 }.isEmpty)
        turn.endTurn()
        #expect(try Self.frames(path).count == 1)
        #expect(replies.withLock { Array($0.prefix(2)) } == ["a", "b"])
        #expect(await settled.wait(.seconds(10)))
        #expect(replies.withLock { $0 } == ["a", "b", "commit"])

        // A turn with nothing new answers at once; the next turn is a frame of its own.
        let immediate = Mutex(false)
        limiter.whenRecorded(durable: true) { immediate.withLock { $0 = true } }
        #expect(immediate.withLock { $0 })
        _ = limiter.reserve(Self.reserve("key:c", tokens: 10, cost: 1), now: now)
        turn.endTurn()
        let counts = try Self.frames(path)
        #expect(counts.count == 2 && counts[0] >= 4 && counts[1] >= 1)

        // Everything reads back.
        let again = try Self.limiter(path)
        #expect(again.heldReservations == 2 && Self.state(again, now: now).2 == Self.state(limiter, now: now).2)
    }
}
