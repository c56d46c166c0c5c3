import Testing

import Basics

/// The recency order behind cached's LRU and limitd's key table.
@Suite struct RecencyListTests {
    @Test("touching adds a slot as the newest, or moves it there; the oldest is the one untouched longest")
    func order() {
        var list = RecencyList()
        #expect(list.newest == nil && list.oldest == nil && list.fromNewest.isEmpty)
        for slot in [0, 1, 2] { list.touch(slot) }
        #expect(list.fromNewest == [2, 1, 0] && list.oldest == 0)
        list.touch(0)
        #expect(list.fromNewest == [0, 2, 1] && list.newest == 0 && list.oldest == 1)
        list.touch(0)
        #expect(list.fromNewest == [0, 2, 1])
        list.touch(2)
        #expect(list.fromNewest == [2, 0, 1])
    }

    @Test("removing takes a slot out from anywhere; its number may come back; removing it twice is harmless")
    func removal() {
        var list = RecencyList(reservingCapacity: 4)
        for slot in 0..<4 { list.touch(slot) }
        list.remove(1)
        #expect(list.fromNewest == [3, 2, 0] && !list.contains(1))
        list.remove(3)
        list.remove(0)
        #expect(list.fromNewest == [2] && list.newest == 2 && list.oldest == 2 && list.contains(2))
        list.remove(0)
        list.remove(9)
        list.touch(1)
        #expect(list.fromNewest == [1, 2] && list.oldest == 2)
        list.remove(2)
        list.remove(1)
        #expect(list.newest == nil && list.oldest == nil && !list.contains(1))
    }

    @Test("slot numbers need not arrive in order; removeAll empties the list")
    func sparseAndCleared() {
        var list = RecencyList()
        list.touch(5)
        list.touch(2)
        #expect(list.fromNewest == [2, 5] && !list.contains(3))
        list.removeAll()
        #expect(list.fromNewest.isEmpty && !list.contains(5))
        list.touch(0)
        #expect(list.fromNewest == [0])
    }
}
