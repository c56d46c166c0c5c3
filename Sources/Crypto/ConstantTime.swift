/// Comparison whose time does not depend on where two secrets differ.
public enum ConstantTime {
    /// Whether `a` and `b` are equal, looking at every byte of both (lengths are not secret).
    /// Inlinable, so that each caller gets a copy specialized to its collections (a generic call per
    /// byte, through metadata lookups, cost frontd more than the SHA-256 of the key it compares).
    @inlinable
    public static func equals<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
