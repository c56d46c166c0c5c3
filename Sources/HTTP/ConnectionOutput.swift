import Basics
import CLinux
import Glibc

/// The part of a connection that response writers touch from any thread, always under the connection's
/// lock: the output queue, the state of the current response, and the close callbacks.
///
/// The socket is closed only by the event loop and only while holding the lock, so a writer never writes
/// to a descriptor that has been closed (and perhaps reused by another connection).
struct ConnectionOutput {
    /// How the current response's body is being sent.
    enum StreamMode: Equatable {
        case chunked
        /// HTTP/1.0: raw bytes, ended by closing the connection.
        case closeDelimited
        /// HEAD or a status without body: writes are accepted and dropped.
        case discard
    }

    enum Progress: Equatable {
        case awaiting
        case streaming(StreamMode, keepAlive: Bool)
        case complete
    }

    /// A queue that has been fully written keeps its buffer only up to this capacity.
    static let retainedCapacity = 64 * 1024

    var closed = false
    /// A write failed (the peer reset the connection) or a limit was hit; the loop will close.
    var failed = false
    var pending: [UInt8] = []
    var pendingStart = 0
    /// When the queue last made progress (or became non-empty), for the write timeout.
    var stalledSince: UInt64 = 0
    var requestID: UInt64 = 0
    var progress: Progress = .complete
    var closeCallbacks: [@Sendable () -> Void] = []
    /// Reused for serialising heads and chunk prefixes, so a response costs no allocation.
    var scratch: [UInt8] = []

    var isWritable: Bool { !closed && !failed }
    var hasPending: Bool { pendingStart < pending.count }
    var pendingCount: Int { pending.count - pendingStart }

    mutating func beginResponse(_ id: UInt64) {
        requestID = id
        progress = .awaiting
        closeCallbacks = []
    }

    /// The scratch buffer (its bytes are raw storage: only what a serialiser reports written counts).
    mutating func takeScratch() -> [UInt8] {
        var buffer: [UInt8] = []
        swap(&buffer, &scratch)
        return buffer
    }

    mutating func returnScratch(_ buffer: [UInt8]) {
        if buffer.count <= Self.retainedCapacity { scratch = buffer }
    }

    /// Sends `a`, `b` and `c` in order with one `sendmsg`, queueing whatever the socket does not take.
    /// - Returns: `false` when the connection failed (peer gone or too much queued output).
    mutating func send(
        _ fd: Int32,
        _ a: UnsafeRawBufferPointer,
        _ b: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        _ c: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        limit: Int
    ) -> Bool {
        guard isWritable else { return false }
        let total = a.count + b.count + c.count
        if total == 0 { return true }
        var written = 0
        if !hasPending {
            written = Self.sendParts(fd, a, b, c)
            if written < 0 {
                failed = true
                return false
            }
            if written == total { return true }
            stalledSince = MonotonicClock.now()
        }
        var skip = written
        func queue(_ part: UnsafeRawBufferPointer) {
            if skip >= part.count {
                skip -= part.count
                return
            }
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: part[skip...]))
            skip = 0
        }
        queue(a)
        queue(b)
        queue(c)
        if pendingCount > limit {
            failed = true
            return false
        }
        return true
    }

    /// Writes queued output until the socket is full.
    /// - Returns: `false` when the connection failed.
    mutating func flush(_ fd: Int32, now: UInt64) -> Bool {
        guard isWritable else { return false }
        while hasPending {
            let result = pending.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.send(fd, base + pendingStart, raw.count - pendingStart, Int32(MSG_NOSIGNAL))
            }
            if result > 0 {
                pendingStart += result
                stalledSince = now
                continue
            }
            let error = errno
            if result < 0 && error == EINTR { continue }
            if result < 0 && (error == EAGAIN || error == EWOULDBLOCK) { break }
            failed = true
            return false
        }
        if !hasPending {
            pending.removeAll(keepingCapacity: pending.capacity <= Self.retainedCapacity)
            pendingStart = 0
        } else if pendingStart >= Self.retainedCapacity && pendingStart * 2 >= pending.count {
            pending.removeSubrange(0..<pendingStart)
            pendingStart = 0
        }
        return true
    }

    /// One `sendmsg` of up to three buffers; returns bytes written, 0 when the socket is full, -1 on error.
    private static func sendParts(
        _ fd: Int32, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer
    ) -> Int {
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: 3) { vectors -> Int in
            var count = 0
            func add(_ part: UnsafeRawBufferPointer) {
                guard part.count > 0 else { return }
                vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: part.baseAddress), iov_len: part.count)
                count += 1
            }
            add(a)
            add(b)
            add(c)
            var message = msghdr()
            message.msg_iov = vectors.baseAddress
            message.msg_iovlen = count
            while true {
                let result = sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
                if result >= 0 { return result }
                let error = errno
                if error == EINTR { continue }
                if error == EAGAIN || error == EWOULDBLOCK { return 0 }
                return -1
            }
        }
    }
}
