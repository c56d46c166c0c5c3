/// The bytes as lower-case hex digits, two a byte (golden files are written this way).
func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

/// The bytes of hex digits (white space ignored), or nil when they are not whole bytes of hex.
func bytesFromHex(_ text: String) -> [UInt8]? {
    let digits = Array(text.filter { !$0.isWhitespace })
    guard digits.count % 2 == 0 else { return nil }
    var result: [UInt8] = []
    result.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
        guard let byte = UInt8(String(digits[index..<(index + 2)]), radix: 16) else { return nil }
        result.append(byte)
        index += 2
    }
    return result
}
