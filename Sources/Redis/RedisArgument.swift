/// Anything that can be one argument of a command: keys, values, fields, numbers.
///
/// Arguments are binary-safe: `[UInt8]` goes to the server byte for byte; `String` goes as its UTF-8;
/// numbers go as their decimal text, which is how Redis reads numeric arguments.
public protocol RedisArgument: Sendable {
    /// Calls `body` with the bytes the server receives for this argument.
    /// - Parameter body: Reads the bytes; they are valid only during the call.
    /// - Returns: What `body` returns.
    func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result
}

extension Array: RedisArgument where Element == UInt8 {
    public func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(body)
    }
}

extension ArraySlice: RedisArgument where Element == UInt8 {
    public func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(body)
    }
}

extension String: RedisArgument {
    public func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        var text = self
        return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

extension Substring: RedisArgument {
    public func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        var text = self
        return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

extension Int: RedisArgument {
    public func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try String(self).withRedisArgumentBytes(body)
    }
}

extension Int64: RedisArgument {
    public func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try String(self).withRedisArgumentBytes(body)
    }
}

extension Double: RedisArgument {
    /// Swift's shortest round-trip form ("0.1", "1e+20", "inf"), which Redis parses exactly.
    public func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try String(self).withRedisArgumentBytes(body)
    }
}
