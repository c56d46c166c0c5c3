import Testing

@testable import batchd

@Suite("BatchQueue") struct BatchQueueTests {
    @Test func higherPriorityFirstThenArrival() {
        var queue = BatchQueue<String>(capacity: 10)
        queue.push("a0", priority: 0)
        queue.push("b5", priority: 5)
        queue.push("c0", priority: 0)
        queue.push("d5", priority: 5)
        queue.push("e9", priority: 9)
        queue.push("f1", priority: 1)
        #expect(queue.elements == ["e9", "b5", "d5", "f1", "a0", "c0"])
        let front = queue.popFirst(2)
        #expect(front == ["e9", "b5"])
        #expect(queue.elements == ["d5", "f1", "a0", "c0"])
    }

    @Test func refusesBeyondCapacity() {
        var queue = BatchQueue<Int>(capacity: 2)
        let first = queue.push(1, priority: 0)
        let second = queue.push(2, priority: 9)
        #expect(first && second)
        #expect(queue.isFull)
        let third = queue.push(3, priority: 255)
        #expect(!third)
        #expect(queue.elements == [2, 1])
    }

    @Test func removesByPredicate() {
        var queue = BatchQueue<Int>(capacity: 10)
        for i in 0..<6 { queue.push(i, priority: UInt8(i % 2)) }
        let three = queue.remove(where: { $0 == 3 })
        let missing = queue.remove(where: { $0 == 42 })
        let evens = queue.removeAll(where: { $0 % 2 == 0 })
        #expect(three == 3)
        #expect(missing == nil)
        #expect(evens == [0, 2, 4])
        #expect(queue.elements == [1, 5])
        let rest = queue.popFirst(10)
        #expect(rest == [1, 5])
        #expect(queue.isEmpty)
    }
}
