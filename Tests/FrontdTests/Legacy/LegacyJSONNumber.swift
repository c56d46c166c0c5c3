import Foundation

/// frontd's reading of JSONSerialization's numbers as it was before frontd read every number itself
/// (main f19bbc1: Sources/frontd/JSONNumber.swift's `exactInteger(_: NSNumber)` and APIError.swift's
/// `JSON.isBool`), kept unchanged as the reference of ``JSONReaderDifferentialTests``.
enum LegacyJSONNumber {
    /// JSONSerialization gives `true`/`false` as NSNumbers of ObjC type `c` (char); numbers have others.
    static func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

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
        guard d.isFinite, d == d.rounded(), abs(d) <= 9_007_199_254_740_992 else { return nil }
        return Int64(d)
    }
}
