/// One command, encoded once and ready to send: its name and arguments as an array of bulk strings.
///
/// ```swift
/// let command = RedisCommand("SET", "user:1", payloadBytes, "PX", 30_000, "NX")
/// ```
public struct RedisCommand: Sendable, Hashable {
    /// The command's name as given ("GET", "SCRIPT"), for error messages.
    public let name: String
    /// The command's bytes on the wire.
    public let encoded: [UInt8]

    /// Encodes a command.
    /// - Parameters:
    ///   - name: The command's name; for a two-word command ("SCRIPT FLUSH") the first word, with the
    ///     second as the first argument.
    ///   - arguments: Keys, values and options, in order.
    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments: arguments)
    }

    /// Encodes a command whose arguments were gathered in an array.
    /// - Parameters:
    ///   - name: The command's name.
    ///   - arguments: Keys, values and options, in order.
    public init(_ name: String, arguments: [any RedisArgument]) {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(32 + 16 * arguments.count)
        RESPEncoder.appendArrayHeader(count: arguments.count + 1, to: &buffer)
        name.withRedisArgumentBytes { RESPEncoder.appendBulkString($0, to: &buffer) }
        for argument in arguments {
            argument.withRedisArgumentBytes { RESPEncoder.appendBulkString($0, to: &buffer) }
        }
        self.name = name
        self.encoded = buffer
    }
}
