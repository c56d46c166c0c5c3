/// The order in which ``JSONWriter`` writes an object's members: the order JSONSerialization's
/// `.sortedKeys` gave every reply before frontd wrote its own JSON, so replies keep their bytes.
///
/// That order is ICU's (CFString's compare with `.numeric, .caseInsensitive, .forcedOrdering`): white
/// space, then punctuation in ICU's order (`_ - , ; : ! ? . ' " ( ) [ ] { } @ * / \ & # % ` ^ + < = > | ~ $`),
/// then digits (a run of digits by its value: `p9` before `p10`), then letters without regard to case;
/// characters beyond ASCII after all of these, by scalar value. Keys equal on that reading are ordered
/// lower case first, then byte by byte.
enum JSONKeyOrder {
    /// Whether `a` is written before `b`.
    static func precedes(_ a: String, _ b: String) -> Bool {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        var i = 0, j = 0
        while i < x.count && j < y.count {
            if isDigit(x[i]) && isDigit(y[j]) {
                let (left, nextI) = digitRun(x, from: i), (right, nextJ) = digitRun(y, from: j)
                if left.count != right.count { return left.count < right.count }
                if left != right { return left.lexicographicallyPrecedes(right) }
                i = nextI
                j = nextJ
                continue
            }
            let p = weight(x[i]), q = weight(y[j])
            if p != q { return p < q }
            i += 1
            j += 1
        }
        if (i < x.count) != (j < y.count) { return j < y.count }
        // Equal but for case and leading zeros: lower case first, then the bytes.
        for (c, d) in zip(a.unicodeScalars, b.unicodeScalars) where c != d {
            let lowerC = isLowercase(c), lowerD = isLowercase(d)
            if lowerC != lowerD && lowered(c) == lowered(d) { return lowerC }
            break
        }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// ASCII punctuation and symbols in ICU's root order.
    private static let punctuation = Array(#"_-,;:!?.'"()[]{}@*/\&#%`^+<=>|~$"#.unicodeScalars)

    /// The primary weight of a scalar: its group, then its place in it (digits weigh the same: a run of
    /// them is compared by its value).
    private static func weight(_ s: Unicode.Scalar) -> UInt32 {
        let v = s.value
        if v == 0x20 || (0x09...0x0D).contains(v) { return v }
        if let index = punctuation.firstIndex(of: s) { return 0x100 + UInt32(index) }
        if isDigit(s) { return 0x180 }
        if isLowercase(s) || (0x41...0x5A).contains(v) { return 0x200 + lowered(s).value }
        return 0x1000 + v
    }

    /// The digits of the run starting at `start` without leading zeros, and the index after it.
    private static func digitRun(_ s: [Unicode.Scalar], from start: Int) -> (ArraySlice<Unicode.Scalar>, Int) {
        var end = start
        while end < s.count && isDigit(s[end]) { end += 1 }
        var first = start
        while first < end - 1 && s[first] == "0" { first += 1 }
        return (s[first..<end], end)
    }

    private static func isDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
    private static func isLowercase(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) }
    private static func lowered(_ s: Unicode.Scalar) -> Unicode.Scalar {
        ("A"..."Z").contains(s) ? Unicode.Scalar(s.value + 0x20) ?? s : s
    }
}
