/// Writes commands the way Redis reads them: an array of bulk strings, binary-safe.
public enum RESPEncoder {
    /// Appends `*count\r\n`, the header of a command with `count` parts (its name included).
    /// - Parameters:
    ///   - count: Number of bulk strings that follow.
    ///   - buffer: Where the bytes go.
    public static func appendArrayHeader(count: Int, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "*"))
        appendDecimal(count, to: &buffer)
        buffer.append(UInt8(ascii: "\r"))
        buffer.append(UInt8(ascii: "\n"))
    }

    /// Appends `$length\r\n<bytes>\r\n`.
    /// - Parameters:
    ///   - bytes: The argument, any bytes at all.
    ///   - buffer: Where the bytes go.
    public static func appendBulkString(_ bytes: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "$"))
        appendDecimal(bytes.count, to: &buffer)
        buffer.append(UInt8(ascii: "\r"))
        buffer.append(UInt8(ascii: "\n"))
        buffer.append(contentsOf: bytes)
        buffer.append(UInt8(ascii: "\r"))
        buffer.append(UInt8(ascii: "\n"))
    }

    /// Encodes a whole command.
    /// - Parameter parts: The command's name and arguments, in order.
    /// - Returns: The bytes to send.
    public static func encodeCommand(_ parts: [[UInt8]]) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(parts.reduce(16) { $0 + $1.count + 16 })
        appendArrayHeader(count: parts.count, to: &buffer)
        for part in parts {
            part.withUnsafeBytes { appendBulkString($0, to: &buffer) }
        }
        return buffer
    }

    private static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        // A decimal Int is at most 20 characters: Swift keeps such strings inline, without allocating.
        buffer.append(contentsOf: String(value).utf8)
    }
}
