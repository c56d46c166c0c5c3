import Foundation

/// Integers out of JSONSerialization's numbers, exactly.
///
/// JSONSerialization gives an integer literal as an NSNumber of an integer type (`q`, or `Q` above
/// Int64.max), as an exact NSDecimalNumber (some 19-digit negatives, anything beyond 64 bits), or, with a
/// fraction or an exponent, as a double. Reading every number through `doubleValue` rounds integers beyond
/// 2^53, so a range check on the double lets through values just outside the range (2^62 compares equal
/// to 2^62 - 1 once both are doubles).
enum JSONNumber {
    /// Integers up to this magnitude are exact as doubles.
    static let exactDoubleLimit: Double = 9_007_199_254_740_992 // 2^53

    /// The integer `n` holds exactly, or nil when it is not an integer (or not one that fits in Int64).
    /// A double counts when it is integral and within ±2^53 (`1.0`, `1e3`), as JSON does not tell them apart.
    static func exactInteger(_ n: NSNumber) -> Int64? {
        if let decimal = n as? NSDecimalNumber {
            var value = decimal.decimalValue
            guard value.isFinite, value >= Decimal(Int64.min), value <= Decimal(Int64.max) else { return nil }
            var whole = Decimal()
            NSDecimalRound(&whole, &value, 0, .plain)
            return whole == value ? decimal.int64Value : nil
        }
        switch String(cString: n.objCType) {
        case "c": return nil // a boolean (JSONSerialization's true and false)
        case "s", "i", "l", "q": return n.int64Value
        case "C", "S", "I", "L": return n.int64Value
        case "Q": return n.uint64Value <= UInt64(Int64.max) ? Int64(n.uint64Value) : nil
        default: return exactInteger(n.doubleValue)
        }
    }

    /// The integer a double read from JSON stands for exactly: integral and within ±2^53, else nil.
    static func exactInteger(_ d: Double) -> Int64? {
        guard d.isFinite, d == d.rounded(), abs(d) <= exactDoubleLimit else { return nil }
        return Int64(d)
    }
}
