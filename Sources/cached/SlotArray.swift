/// Elements in numbered slots that never move: a slot freed is reused by the next element stored, so the
/// array stays dense. How the LRU and the semantic index keep their entries, with a dictionary from key
/// to slot and a ``RecencyList`` of the slot numbers beside it.
struct SlotArray<Element> {
    private var elements: [Element] = []
    /// Slots freed and not yet reused; the last is reused first.
    private var freeSlots: [Int] = []

    /// An empty array.
    /// - Parameter capacity: Slots to make room for up front (more are added as elements arrive).
    init(reservingCapacity capacity: Int = 0) {
        elements.reserveCapacity(capacity)
    }

    /// The element in `slot`, read or changed in place.
    subscript(slot: Int) -> Element {
        get { elements[slot] }
        _modify { yield &elements[slot] }
    }

    /// Puts `element` in a freed slot or, when none is free, in a new one at the end.
    /// - Returns: Its slot.
    mutating func store(_ element: Element) -> Int {
        if let reused = freeSlots.popLast() {
            elements[reused] = element
            return reused
        }
        elements.append(element)
        return elements.count - 1
    }

    /// Frees `slot` for the next ``store(_:)``, leaving `placeholder` in it so that what the element held
    /// (keys, values) is released now rather than when the slot is reused.
    mutating func free(_ slot: Int, leaving placeholder: Element) {
        elements[slot] = placeholder
        freeSlots.append(slot)
    }

    /// Frees every slot, keeping the memory for what comes next.
    mutating func removeAll() {
        elements.removeAll(keepingCapacity: true)
        freeSlots.removeAll(keepingCapacity: true)
    }
}
