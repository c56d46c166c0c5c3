/// GPT-2's reversible mapping between bytes and printable Unicode characters ("bytes_to_unicode"):
/// byte-level BPE vocabularies spell every byte with one of these 256 characters, so a space is `Ġ`
/// (U+0120) and a newline `Ċ` (U+010A).
enum ByteLevel {
    /// The character (as a Unicode scalar value) that spells each byte.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var printable = [Bool](repeating: false, count: 256)
        for b in 0x21...0x7E { printable[b] = true }
        for b in 0xA1...0xAC { printable[b] = true }
        for b in 0xAE...0xFF { printable[b] = true }
        var next: UInt32 = 256
        for b in 0..<256 {
            if printable[b] {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The inverse of `byteToScalar`: the byte a character spells, for scalar values below 512
    /// (every character in the table is below U+0144); -1 where the scalar is not in the table.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 512)
        for (b, s) in byteToScalar.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    /// The byte-level spelling of a single byte, as a one-character string.
    static func string(forByte b: UInt8) -> String {
        String(Character(Unicode.Scalar(byteToScalar[Int(b)]) ?? "\u{FFFD}"))
    }

    /// The bytes a byte-level token spells. Characters outside the table (which a well-formed
    /// byte-level vocabulary does not contain) stand for their own UTF-8 encoding.
    static func bytes(ofToken token: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let v = Int(scalar.value)
            if v < scalarToByte.count, scalarToByte[v] >= 0 {
                out.append(UInt8(scalarToByte[v]))
            } else {
                out.append(contentsOf: String(Character(scalar)).utf8)
            }
        }
        return out
    }

    /// Appends the bytes a byte-level token spells, given the token's UTF-8 spelling.
    static func appendBytes(ofTokenUTF8 utf8: ArraySlice<UInt8>, to out: inout [UInt8]) {
        var i = utf8.startIndex
        let end = utf8.endIndex
        while i < end {
            let b0 = utf8[i]
            var length = 1
            if b0 >= 0xF0 { length = 4 } else if b0 >= 0xE0 { length = 3 } else if b0 >= 0xC0 { length = 2 }
            length = min(length, end - i)
            if length == 2 {
                let v = Int(b0 & 0x1F) << 6 | Int(utf8[i + 1] & 0x3F)
                if v < scalarToByte.count, scalarToByte[v] >= 0 {
                    out.append(UInt8(scalarToByte[v]))
                    i += 2
                    continue
                }
            } else if length == 1, b0 < 0x80, scalarToByte[Int(b0)] >= 0 {
                out.append(UInt8(scalarToByte[Int(b0)]))
                i += 1
                continue
            }
            out.append(contentsOf: utf8[i..<(i + length)])
            i += length
        }
    }
}
