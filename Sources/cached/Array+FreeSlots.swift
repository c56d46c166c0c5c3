extension Array {
    /// Puts `element` in a freed slot (the last of `freeSlots`) or, when none is free, at the end: how the
    /// LRU and the semantic index keep their slot arrays dense without ever moving a live slot.
    /// - Parameters:
    ///   - element: What to store.
    ///   - freeSlots: Indices of slots freed earlier; the one reused is taken off.
    /// - Returns: The slot it is in.
    mutating func store(_ element: Element, reusing freeSlots: inout [Int]) -> Int {
        if let reused = freeSlots.popLast() {
            self[reused] = element
            return reused
        }
        append(element)
        return count - 1
    }
}
