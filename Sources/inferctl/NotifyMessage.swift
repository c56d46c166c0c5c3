/// One `sd_notify` datagram from a daemon: newline-separated `NAME=VALUE` assignments
/// (sd_notify(3)). Unknown assignments are ignored, as systemd ignores them.
struct NotifyMessage: Equatable {
    /// `READY=1`: the daemon serves.
    var ready = false
    /// `STOPPING=1`: the daemon has begun to stop.
    var stopping = false
    /// `RELOADING=1`.
    var reloading = false
    /// `WATCHDOG=1`: the daemon is alive.
    var watchdogPing = false
    /// `WATCHDOG=trigger`: the daemon asks to be treated as hung at once.
    var watchdogTrigger = false
    /// `STATUS=...`: a line for the operator.
    var status: String?
    /// `ERRNO=n`: the error the daemon failed with.
    var errorNumber: Int32?
    /// `EXTEND_TIMEOUT_USEC=n`: the daemon needs this much longer to start (or stop).
    var extendTimeout: Duration?
    /// `WATCHDOG_USEC=n`: the daemon asks for another watchdog interval.
    var watchdogInterval: Duration?

    /// Parses a datagram.
    /// - Parameter bytes: The datagram as received.
    init(_ bytes: some Sequence<UInt8>) {
        let text = String(decoding: Array(bytes), as: UTF8.self)
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals]
            let value = String(line[line.index(after: equals)...])
            switch name {
            case "READY": ready = value == "1"
            case "STOPPING": stopping = value == "1"
            case "RELOADING": reloading = value == "1"
            case "WATCHDOG":
                if value == "1" { watchdogPing = true }
                if value == "trigger" { watchdogTrigger = true }
            case "STATUS": status = value
            case "ERRNO": errorNumber = Int32(value)
            case "EXTEND_TIMEOUT_USEC": extendTimeout = Self.microseconds(value)
            case "WATCHDOG_USEC": watchdogInterval = Self.microseconds(value).flatMap { $0 > .zero ? $0 : nil }
            default: continue
            }
        }
    }

    private static func microseconds(_ text: String) -> Duration? {
        UInt64(text).map { .microseconds(Int64(clamping: $0)) }
    }
}
