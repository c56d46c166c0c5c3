/// Appending text and numbers to byte buffers without building intermediate Strings.
extension Array where Element == UInt8 {
    @inline(__always)
    mutating func append(static text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func append(string: String) {
        var text = string
        text.withUTF8 { append(contentsOf: $0) }
    }

    mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            append(0x2D)
            appendDecimal(value == Int.min ? Int.max : -value)
            return
        }
        if value < 10 {
            append(UInt8(value) + 0x30)
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits
        var count = 0
        var rest = value
        Swift.withUnsafeMutableBytes(of: &digits) { raw in
            while rest > 0 {
                raw[count] = UInt8(rest % 10) + 0x30
                rest /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { append(raw[i]) }
        }
    }

    @inline(__always)
    mutating func appendTwoDigits(_ value: Int) {
        append(UInt8(value / 10 % 10) + 0x30)
        append(UInt8(value % 10) + 0x30)
    }
}
