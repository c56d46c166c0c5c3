import Synchronization
import Testing
import TestKit

@testable import Redis

@Suite("Command encoding")
struct RedisCommandTests {
    @Test("a command is an array of bulk strings")
    func plain() {
        let command = RedisCommand("SET", "key", "value")
        #expect(String(decoding: command.encoded, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n")
        #expect(command.name == "SET")
    }

    @Test("arguments are binary-safe: CR, LF, NUL and non-UTF-8 bytes pass as they are")
    func binary() throws {
        let key: [UInt8] = [0, 13, 10, 255, 0x24]
        let command = RedisCommand("GET", key)
        #expect(command.encoded == Array("*2\r\n$3\r\nGET\r\n$5\r\n".utf8) + key + [13, 10])
        // The server reads it back as two bulk strings: our own parser agrees.
        #expect(try parseAll([command.encoded]) == [.array([.bulkString(Array("GET".utf8)), .bulkString(key)])])
    }

    @Test("numbers go as decimal text; empty arguments as empty bulk strings")
    func numbersAndEmpty() {
        let command = RedisCommand("X", 42, Int64(-7), 1.5, "", ArraySlice<UInt8>([1, 2]), Substring("ab"))
        #expect(
            String(decoding: command.encoded, as: UTF8.self)
                == "*7\r\n$1\r\nX\r\n$2\r\n42\r\n$2\r\n-7\r\n$3\r\n1.5\r\n$0\r\n\r\n$2\r\n\u{1}\u{2}\r\n$2\r\nab\r\n")
    }

    @Test("the encoder and the parser agree on a multi-byte UTF-8 argument")
    func utf8() throws {
        let command = RedisCommand("ECHO", "héllo ✓")
        #expect(try parseAll([command.encoded]) == [.array([.bulkString(Array("ECHO".utf8)), .bulkString(Array("héllo ✓".utf8))])])
        #expect(RESPEncoder.encodeCommand([Array("ECHO".utf8), Array("héllo ✓".utf8)]) == command.encoded)
    }
}

@Suite("SHA-1")
struct SHA1Tests {
    @Test(
        "FIPS 180 and well-known vectors",
        arguments: [
            ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
            (
                "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                "a49b2446a02c645bf419f995b67091253a04a259"
            ),
            ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
        ])
    func vectors(input: String, digest: String) {
        #expect(SHA1.hexDigest(input.utf8) == digest)
    }

    @Test("one million 'a' (many blocks)")
    func million() {
        #expect(SHA1.hexDigest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test("lengths around the padding boundary (55, 56, 63, 64, 65 bytes) hash as 20 bytes and differ")
    func paddingBoundaries() {
        let digests = [55, 56, 63, 64, 65].map { SHA1.hash([UInt8](repeating: 0x61, count: $0)) }
        #expect(digests.allSatisfy { $0.count == 20 })
        #expect(Set(digests).count == 5)
        // Known: 64 × "a".
        #expect(SHA1.hexDigest([UInt8](repeating: 0x61, count: 64)) == "0098ba824b5c16427bd7a1122a5a442a25ec644d")
    }

    @Test("a script's SHA-1 is that of its UTF-8 source")
    func script() {
        #expect(RedisScript("return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }
}

@Suite("Reconnection backoff")
struct RedisBackoffTests {
    let backoff = RedisBackoff(initial: .milliseconds(100), maximum: .seconds(1))

    @Test("the first attempt is immediate")
    func first() {
        #expect(backoff.delay(beforeAttempt: 0, jitter: 0.9) == .zero)
    }

    @Test("delays double, jittered between half and all of the step, up to the maximum")
    func doubling() {
        #expect(backoff.delay(beforeAttempt: 1, jitter: 1) == .milliseconds(100))
        #expect(backoff.delay(beforeAttempt: 1, jitter: 0) == .milliseconds(50))
        #expect(backoff.delay(beforeAttempt: 2, jitter: 1) == .milliseconds(200))
        #expect(backoff.delay(beforeAttempt: 4, jitter: 1) == .milliseconds(800))
        #expect(backoff.delay(beforeAttempt: 5, jitter: 1) == .seconds(1))
        #expect(backoff.delay(beforeAttempt: 1_000, jitter: 0) == .milliseconds(500))
        #expect(backoff.delay(beforeAttempt: Int.max, jitter: 1) == .seconds(1))
    }
}

@Suite("Waiter queue")
struct WaiterQueueTests {
    @Test("a reply to no command is reported, not given to anyone")
    func unexpected() {
        var queue = WaiterQueue()
        guard case .unexpected = queue.deliver(.integer(1)) else {
            Issue.record("expected .unexpected")
            return
        }
        #expect(queue.count == 0)
        #expect(queue.nextDeadline == nil)
    }

    @Test("a timed-out waiter keeps its place: its late reply is dropped and the next reply goes to the next waiter")
    func timedOutWaiterKeepsItsPlace() async throws {
        let queue = SharedQueue()
        let now = MonotonicTime.now()
        func waiter(_ name: String, replies: Int, deadline: MonotonicTime) -> Task<[RESPValue], any Error> {
            Task { [queue] in
                try await withCheckedThrowingContinuation { continuation in
                    queue.mutex.withLock {
                        $0.append(
                            .init(
                                continuation: continuation, remaining: replies, replies: [], commandCount: replies,
                                deadline: deadline, name: name))
                    }
                }
            }
        }
        let expired = waiter("GET a", replies: 1, deadline: now)
        #expect(await eventually { queue.mutex.withLock { $0.count } == 1 })
        let pipeline = waiter("pipeline", replies: 2, deadline: now.adding(.seconds(60)))
        #expect(await eventually { queue.mutex.withLock { $0.count } == 2 })

        let timedOut = queue.mutex.withLock { $0.expire(now: now) }
        #expect(timedOut.map(\.1.name) == ["GET a"])
        for (continuation, _) in timedOut { continuation.resume(throwing: RedisError(.timeout, "test")) }
        #expect(queue.mutex.withLock { $0.nextDeadline } == now.adding(.seconds(60)))
        #expect(queue.mutex.withLock { $0.count } == 2)

        let deliveries = queue.mutex.withLock { queue in
            [RESPValue.bulk("late a"), .bulk("b"), .bulk("c")].map { queue.deliver($0) }
        }
        guard case .discarded = deliveries[0], case .partial = deliveries[1],
            case .complete(let continuation, let replies) = deliveries[2]
        else {
            Issue.record("deliveries \(deliveries)")
            return
        }
        continuation.resume(returning: replies)
        #expect(try await pipeline.value == [.bulk("b"), .bulk("c")])
        await #expect(throws: RedisError.self) { try await expired.value }
        #expect(queue.mutex.withLock { $0.count } == 0)
    }
}

/// A waiter queue shared between test tasks, as RedisConnection shares it.
private final class SharedQueue: Sendable {
    let mutex = Mutex(WaiterQueue())
}
