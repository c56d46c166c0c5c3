/// Callers waiting for replies, oldest first: RESP answers commands in the order they were sent, so
/// each reply belongs to the oldest waiter that still expects one.
///
/// A waiter that timed out stays in the queue, without its continuation, until its reply arrives and is
/// dropped: removing it would give its reply to the next caller.
struct WaiterQueue {
    typealias Continuation = CheckedContinuation<[RESPValue], any Error>

    struct Waiter {
        /// `nil` once the caller was answered with a timeout.
        var continuation: Continuation?
        /// Replies still due (a pipeline waits for several).
        var remaining: Int
        var replies: [RESPValue]
        let commandCount: Int
        let deadline: MonotonicTime
        let name: String
    }

    /// What one reply did.
    enum Delivery {
        /// The oldest waiter needs more replies.
        case partial
        /// The oldest waiter has all its replies.
        case complete(Continuation, [RESPValue])
        /// The reply finished a waiter that had timed out; it is dropped.
        case discarded
        /// Nobody was waiting: the server sent a reply to no command.
        case unexpected
    }

    private var items: [Waiter] = []
    private var head = 0
    /// How many waiters were ever removed from the front: the sequence number of `items[head]`.
    private var removedCount = 0
    /// Sequence number of the first waiter not yet found expired; all before it are expired or gone.
    private var expiryCursor = 0
    /// Slots kept before the consumed front of `items` is dropped (amortised O(1) per waiter).
    private static let compactionThreshold = 1024

    /// Waiters in the queue, timed-out ones whose replies are still due included.
    var count: Int { items.count - head }

    mutating func append(_ waiter: Waiter) {
        items.append(waiter)
    }

    mutating func deliver(_ reply: RESPValue) -> Delivery {
        guard head < items.count else { return .unexpected }
        items[head].remaining -= 1
        if items[head].continuation != nil {
            items[head].replies.append(reply)
        }
        guard items[head].remaining == 0 else { return .partial }
        let waiter = items[head]
        items[head].replies = []
        items[head].continuation = nil
        removeFront()
        guard let continuation = waiter.continuation else { return .discarded }
        return .complete(continuation, waiter.replies)
    }

    /// The deadline of the oldest waiter that has not timed out.
    var nextDeadline: MonotonicTime? {
        let index = head + max(expiryCursor - removedCount, 0)
        return index < items.count ? items[index].deadline : nil
    }

    /// Takes the continuations of waiters whose deadline is not after `now`. Every waiter has the same
    /// timeout, so deadlines rise along the queue and the scan stops at the first one in the future.
    mutating func expire(now: MonotonicTime) -> [(Continuation, Waiter)] {
        var expired: [(Continuation, Waiter)] = []
        expiryCursor = max(expiryCursor, removedCount)
        while head + (expiryCursor - removedCount) < items.count {
            let index = head + (expiryCursor - removedCount)
            guard items[index].deadline <= now else { break }
            if let continuation = items[index].continuation {
                expired.append((continuation, items[index]))
                items[index].continuation = nil
                items[index].replies = []
            }
            expiryCursor += 1
        }
        return expired
    }

    /// Empties the queue.
    /// - Returns: The waiters still waiting, with their continuations.
    mutating func removeAll() -> [(Continuation, Waiter)] {
        var live: [(Continuation, Waiter)] = []
        for waiter in items[head...] {
            if let continuation = waiter.continuation { live.append((continuation, waiter)) }
        }
        removedCount += count
        items.removeAll()
        head = 0
        return live
    }

    private mutating func removeFront() {
        head += 1
        removedCount += 1
        if head == items.count {
            items.removeAll(keepingCapacity: items.count <= Self.compactionThreshold * 64)
            head = 0
        } else if head >= Self.compactionThreshold, head * 2 >= items.count {
            items.removeSubrange(0..<head)
            head = 0
        }
    }
}
