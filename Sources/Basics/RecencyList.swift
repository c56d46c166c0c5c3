/// The order in which numbered slots were last used, from the newest to the oldest: the list behind a
/// least-recently-used bound.
///
/// The caller keeps its entries in an array of slots and a dictionary from key to slot number; this keeps
/// a doubly-linked list of those numbers beside it, so marking a slot as just used, forgetting it, and
/// finding the oldest are O(1) and allocate nothing once the slot numbers have been seen. Slot numbers are
/// the caller's array indices: small, dense, from 0.
public struct RecencyList: Sendable {
    /// A slot's neighbours in the list.
    private struct Link: Sendable {
        /// The slot used just after this one (towards the newest), or `none`.
        var newer: Int
        /// The slot used just before this one (towards the oldest), or `none`.
        var older: Int
    }

    private static let none = -1

    private var links: [Link] = []
    private var newestSlot = RecencyList.none
    private var oldestSlot = RecencyList.none

    /// An empty list.
    /// - Parameter capacity: Slot numbers to make room for up front (more are added as they are seen).
    public init(reservingCapacity capacity: Int = 0) {
        links.reserveCapacity(capacity)
    }

    /// The most recently used slot, or nil when the list is empty.
    public var newest: Int? { newestSlot == Self.none ? nil : newestSlot }

    /// The least recently used slot, or nil when the list is empty.
    public var oldest: Int? { oldestSlot == Self.none ? nil : oldestSlot }

    /// Whether `slot` is in the list.
    /// - Parameter slot: A slot number (≥ 0).
    public func contains(_ slot: Int) -> Bool {
        slot >= 0 && slot < links.count
            && (slot == newestSlot || links[slot].newer != Self.none || links[slot].older != Self.none)
    }

    /// Marks `slot` as the most recently used: moves it to the front, or adds it when it is not in the list.
    /// - Parameter slot: A slot number (≥ 0).
    public mutating func touch(_ slot: Int) {
        precondition(slot >= 0, "slot numbers are array indices")
        guard slot != newestSlot else { return }
        if slot >= links.count {
            links.append(contentsOf: repeatElement(Link(newer: Self.none, older: Self.none), count: slot + 1 - links.count))
        } else if contains(slot) {
            unlink(slot)
        }
        links[slot].older = newestSlot
        links[slot].newer = Self.none
        if newestSlot != Self.none { links[newestSlot].newer = slot }
        newestSlot = slot
        if oldestSlot == Self.none { oldestSlot = slot }
    }

    /// Takes `slot` out of the list (nothing happens when it is not in it); its number may be used again.
    /// - Parameter slot: A slot number.
    public mutating func remove(_ slot: Int) {
        guard contains(slot) else { return }
        unlink(slot)
    }

    /// Empties the list.
    /// - Parameter keepingCapacity: Whether to keep the room made for the slot numbers seen so far.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        links.removeAll(keepingCapacity: keepingCapacity)
        newestSlot = Self.none
        oldestSlot = Self.none
    }

    /// The slots from the most to the least recently used (O(n): for tests and debugging).
    public var fromNewest: [Int] {
        var slots: [Int] = []
        var slot = newestSlot
        while slot != Self.none {
            slots.append(slot)
            slot = links[slot].older
        }
        return slots
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (links[slot].newer, links[slot].older)
        if newer != Self.none { links[newer].older = older } else { newestSlot = older }
        if older != Self.none { links[older].newer = newer } else { oldestSlot = newer }
        links[slot].newer = Self.none
        links[slot].older = Self.none
    }
}
