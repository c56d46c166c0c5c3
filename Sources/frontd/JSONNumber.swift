/// Integers out of a body's number literals, exactly: an integer field takes only a value that is
/// exactly an integer, and reading every number through a double would round integers beyond 2^53, so a
/// range check on the double would let through values just outside the range (2^62 compares equal to
/// 2^62 - 1 once both are doubles).
enum JSONNumber {
    /// Integers up to this magnitude are exact as doubles.
    static let exactDoubleLimit: Double = 9_007_199_254_740_992 // 2^53

    /// The integer a double read from JSON stands for exactly: integral and within ±2^53, else nil.
    static func exactInteger(_ d: Double) -> Int64? {
        guard d.isFinite, d == d.rounded(), abs(d) <= exactDoubleLimit else { return nil }
        return Int64(d)
    }

    /// Most exponent digits read; a longer exponent is far beyond any integer of 64 bits either way.
    private static let exponentDigits = 6

    /// The integer a number literal (`-? digits (. digits)? ([eE] [+-]? digits)?`, already checked by
    /// ``JSONReader``) stands for exactly, by decimal arithmetic on its digits rather than through a
    /// double: nil when its value is not an integer or not one that fits in Int64
    /// (`123456789012345678.000e1` is 1234567890123456780; `9223372036854775808` is nil).
    static func exactInteger(literal: some Collection<UInt8>) -> Int64? {
        var bytes = literal[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        var digits: [UInt8] = []
        var scale = 0
        var inFraction = false
        while let b = bytes.first, b != UInt8(ascii: "e"), b != UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if b == UInt8(ascii: ".") {
                inFraction = true
                continue
            }
            // Leading zeros say nothing; the digits kept are the significant ones.
            if digits.isEmpty && b == UInt8(ascii: "0") {
                if inFraction { scale -= 1 }
                continue
            }
            digits.append(b - UInt8(ascii: "0"))
            if inFraction { scale -= 1 }
        }
        if !bytes.isEmpty {
            bytes = bytes.dropFirst()
            let exponentNegative = bytes.first == UInt8(ascii: "-")
            if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
            let significant = bytes.drop { $0 == UInt8(ascii: "0") }
            guard significant.count <= exponentDigits else { return digits.isEmpty ? 0 : nil }
            let exponent = significant.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            scale += exponentNegative ? -exponent : exponent
        }
        while digits.last == 0 {
            digits.removeLast()
            scale += 1
        }
        if digits.isEmpty { return 0 }
        // A fraction left over, or more than Int64's 19 digits.
        guard scale >= 0, digits.count + scale <= 19 else { return nil }
        var magnitude: UInt64 = 0
        for digit in digits + [UInt8](repeating: 0, count: scale) {
            let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow, !carry else { return nil }
            magnitude = sum
        }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }
}
