/// The keys and values one sequence has produced, per layer. Storage grows in steps as the sequence
/// gets longer instead of reserving the whole context up front, so a short chat costs little memory.
public final class KVCache: @unchecked Sendable {
    /// Positions filled so far.
    public private(set) var count = 0
    /// Positions allocated.
    public private(set) var capacity = 0
    let layers: Int
    let kvWidth: Int
    /// Per layer: `capacity` rows of `kvWidth` floats.
    private(set) var keys: [UnsafeMutablePointer<Float>] = []
    private(set) var values: [UnsafeMutablePointer<Float>] = []
    /// Positions added per growth step at least (growth doubles up to this many).
    static let growthStep = 128

    init(layers: Int, kvWidth: Int) {
        self.layers = layers
        self.kvWidth = kvWidth
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Bytes of key/value storage allocated.
    public var bytes: Int { 2 * layers * capacity * kvWidth * MemoryLayout<Float>.size }

    /// Makes room for `n` more positions.
    func reserve(_ n: Int) {
        let need = count + n
        guard need > capacity else { return }
        let newCapacity = max(need, capacity + min(max(capacity, 16), Self.growthStep))
        func grow(_ old: [UnsafeMutablePointer<Float>]) -> [UnsafeMutablePointer<Float>] {
            (0..<layers).map { l in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * kvWidth)
                if !old.isEmpty {
                    p.update(from: old[l], count: count * kvWidth)
                    old[l].deallocate()
                }
                return p
            }
        }
        keys = grow(keys)
        values = grow(values)
        capacity = newCapacity
    }

    /// Marks `n` reserved positions as filled (after every layer has written them).
    func commit(_ n: Int) { count += n }

    /// Forgets positions from `n` on (e.g. to reuse a shared prompt prefix).
    public func truncate(to n: Int) { count = min(count, max(0, n)) }
}
