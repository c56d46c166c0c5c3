import Basics
import Glibc
import Synchronization
import Wire

/// A daemon's logger: one JSON object per line on stderr, which journald keeps.
///
/// ```json
/// {"ts":"2026-11-23T09:00:00.123Z","level":"info","daemon":"limitd","msg":"admitted","request_id":"r1","tokens":42}
/// ```
///
/// Keys come in a fixed order: `ts`, `level`, `daemon`, `msg`, then the fields bound with
/// ``with(_:)`` (such as `request_id`), then the fields of the call. The message and fields are
/// autoclosures, so a line below the level costs one comparison. The logger is a value that can be
/// copied to any thread; every line is built in one buffer and written with one write(2), under a lock so
/// lines from different threads never interleave.
public struct Logger: Sendable {
    /// The daemon named on every line.
    public let daemon: String
    /// The least severe level written.
    public let level: LogLevel
    /// Whether lines are JSON (the default) or plain text for a person at a terminal.
    public let format: LogFormat
    private let output: LogOutput
    private let metadata: [(key: String, value: LogValue)]

    /// Makes a logger.
    /// - Parameters:
    ///   - daemon: The daemon's name, written on every line.
    ///   - level: The least severe level written.
    ///   - format: JSON lines (default) or plain text.
    ///   - output: Where lines go; stderr by default.
    public init(daemon: String, level: LogLevel = .info, format: LogFormat = .json, output: LogOutput = .standardError) {
        self.init(daemon: daemon, level: level, format: format, output: output, metadata: [])
    }

    private init(
        daemon: String, level: LogLevel, format: LogFormat, output: LogOutput,
        metadata: [(key: String, value: LogValue)]
    ) {
        self.daemon = daemon
        self.level = level
        self.format = format
        self.output = output
        self.metadata = metadata
    }

    /// A logger that adds `fields` to every line, after `msg`: the way to put `request_id` on every line
    /// that concerns a request.
    /// - Parameter fields: The fields to bind.
    /// - Returns: The new logger; this one is unchanged.
    public func with(_ fields: KeyValuePairs<String, LogValue>) -> Logger {
        var bound = metadata
        for (key, value) in fields {
            bound.removeAll { $0.key == key }
            bound.append((key, value))
        }
        return Logger(daemon: daemon, level: level, format: format, output: output, metadata: bound)
    }

    /// A logger for one request: binds `request_id`, and `trace_id` when there is one.
    /// - Parameters:
    ///   - requestID: The request's id.
    ///   - traceID: The trace id, when tracing is on.
    /// - Returns: The new logger.
    public func with(requestID: String, traceID: String? = nil) -> Logger {
        if let traceID { return with(["request_id": .string(requestID), "trace_id": .string(traceID)]) }
        return with(["request_id": .string(requestID)])
    }

    /// A logger for one request a daemon serves for a caller: binds `request_id`, and `trace_id` when the
    /// call carried a trace context.
    /// - Parameters:
    ///   - requestID: The request's id.
    ///   - trace: The call's trace context (``IPCCall/traceContext`` or `TraceContext.current`).
    /// - Returns: The new logger.
    public func with(requestID: String, trace: TraceContext?) -> Logger {
        with(requestID: requestID, traceID: trace?.traceID.hex)
    }

    /// Whether a line of `level` would be written; for work that costs more than building the line.
    public func isEnabled(_ level: LogLevel) -> Bool { level >= self.level }

    /// Writes a debug line.
    /// - Parameters:
    ///   - message: The message (`msg`).
    ///   - fields: Extra fields for this line.
    public func debug(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        log(.debug, message(), fields())
    }

    /// Writes an info line.
    /// - Parameters:
    ///   - message: The message (`msg`).
    ///   - fields: Extra fields for this line.
    public func info(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        log(.info, message(), fields())
    }

    /// Writes a warn line.
    /// - Parameters:
    ///   - message: The message (`msg`).
    ///   - fields: Extra fields for this line.
    public func warn(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        log(.warn, message(), fields())
    }

    /// Writes an error line.
    /// - Parameters:
    ///   - message: The message (`msg`).
    ///   - fields: Extra fields for this line.
    public func error(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        log(.error, message(), fields())
    }

    /// Writes a line at `level`, if that level is enabled.
    /// - Parameters:
    ///   - level: The line's level.
    ///   - message: The message (`msg`).
    ///   - fields: Extra fields for this line; one that reuses a key of the line's header
    ///     (`ts`, `level`, `daemon`, `msg`) is written as `field_<key>`, and one that reuses a key bound with
    ///     ``with(_:)`` is dropped, so the object never has duplicate keys.
    public func log(_ level: LogLevel, _ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, LogValue> = [:]) {
        guard level >= self.level else { return }
        let line = encode(level: level, message: message(), fields: fields())
        output.write(line)
    }

    /// Builds one line, newline included.
    func encode(level: LogLevel, message: String, fields: KeyValuePairs<String, LogValue>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + message.utf8.count)
        switch format {
        case .json:
            out.append(contentsOf: Array("{\"ts\":\"".utf8))
            LogLineEncoder.appendTimestamp(to: &out)
            out.append(contentsOf: Array("\",\"level\":\"\(level.rawValue)\",\"daemon\":".utf8))
            JSONString.append(daemon, to: &out)
            out.append(contentsOf: Array(",\"msg\":".utf8))
            JSONString.append(message, to: &out)
            for (key, value) in metadata { appendJSONField(key, value, to: &out) }
            for (key, value) in fields where !metadata.contains(where: { $0.key == key }) {
                appendJSONField(key, value, to: &out)
            }
            out.append(contentsOf: Array("}\n".utf8))
        case .plain:
            LogLineEncoder.appendTimestamp(to: &out)
            out.append(contentsOf: Array(" \(level.rawValue) ".utf8))
            LogLineEncoder.appendPlainValue(.string(daemon), to: &out)
            out.append(contentsOf: Array(": ".utf8))
            // The message is free text: escape control characters but keep it unquoted when it is one line.
            var escaped: [UInt8] = []
            JSONString.append(message, to: &escaped)
            out.append(contentsOf: escaped.dropFirst().dropLast())
            for (key, value) in metadata { appendPlainField(key, value, to: &out) }
            for (key, value) in fields where !metadata.contains(where: { $0.key == key }) {
                appendPlainField(key, value, to: &out)
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    private static let reservedKeys: Set<String> = ["ts", "level", "daemon", "msg"]

    private func appendJSONField(_ key: String, _ value: LogValue, to out: inout [UInt8]) {
        out.append(UInt8(ascii: ","))
        JSONString.append(Self.reservedKeys.contains(key) ? "field_" + key : key, to: &out)
        out.append(UInt8(ascii: ":"))
        LogLineEncoder.appendJSONValue(value, to: &out)
    }

    private func appendPlainField(_ key: String, _ value: LogValue, to out: inout [UInt8]) {
        out.append(UInt8(ascii: " "))
        LogLineEncoder.appendPlainValue(.string(key), to: &out)
        out.append(UInt8(ascii: "="))
        LogLineEncoder.appendPlainValue(value, to: &out)
    }
}

/// How log lines are written.
public enum LogFormat: Sendable {
    /// One JSON object per line (the default; `ENABLE_STRUCTURED_LOGGING=true`).
    case json
    /// `2026-11-23T09:00:00.123Z info limitd: message key=value`, for a person at a terminal
    /// (`ENABLE_STRUCTURED_LOGGING=false`).
    case plain
}

/// Where a logger's lines go.
public struct LogOutput: Sendable {
    private let sink: LineSink

    private init(sink: LineSink) {
        self.sink = sink
    }

    /// Standard error (fd 2): journald under systemd, the terminal otherwise.
    public static let standardError = LogOutput.fileDescriptor(STDERR_FILENO)

    /// Any open file descriptor; the logger does not close it.
    /// - Parameter descriptor: The descriptor.
    /// - Returns: The output.
    public static func fileDescriptor(_ descriptor: Int32) -> LogOutput {
        LogOutput(sink: LineSink(descriptor: descriptor, handler: nil))
    }

    /// A function that receives each whole line, newline included (for tests and for forwarding).
    /// - Parameter handler: Called once per line, never concurrently.
    /// - Returns: The output.
    public static func lines(_ handler: @escaping @Sendable ([UInt8]) -> Void) -> LogOutput {
        LogOutput(sink: LineSink(descriptor: -1, handler: handler))
    }

    func write(_ line: [UInt8]) {
        sink.write(line)
    }
}

/// Serialises lines onto one descriptor; the lock keeps a partial write's remainder from being split by
/// another thread's line.
private final class LineSink: Sendable {
    private let descriptor: Int32
    private let handler: (@Sendable ([UInt8]) -> Void)?
    private let lock = Mutex(())

    init(descriptor: Int32, handler: (@Sendable ([UInt8]) -> Void)?) {
        self.descriptor = descriptor
        self.handler = handler
    }

    func write(_ line: [UInt8]) {
        lock.withLock { _ in
            if let handler {
                handler(line)
                return
            }
            line.withUnsafeBytes { bytes in
                guard var next = bytes.baseAddress else { return }
                var remaining = bytes.count
                while remaining > 0 {
                    let written = Glibc.write(descriptor, next, remaining)
                    if written > 0 {
                        next += written
                        remaining -= written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else if written < 0 && errno == EAGAIN {
                        // stderr shared with a non-blocking peer: wait briefly rather than drop the line.
                        var waiting = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                        if poll(&waiting, 1, 1000) <= 0 { return }
                    } else {
                        return // Nowhere left to report a failing log; the daemon goes on.
                    }
                }
            }
        }
    }
}
