import Basics
import Glibc

/// The datagram socket every daemon's `NOTIFY_SOCKET` names, as systemd's is: the kernel stamps each
/// datagram with the sender's pid (SO_PASSCRED), which tells the daemons apart and lets the supervisor
/// accept only a daemon's main process (`NotifyAccess=main`).
final class NotifySocket {
    /// The socket file.
    let path: String
    /// The descriptor, to poll for POLLIN.
    let descriptor: Int32
    private let file: FileIdentity?

    /// One received datagram.
    struct Datagram {
        /// The sender's pid, from the kernel's credentials; nil when none came with it.
        let senderPID: pid_t?
        let message: NotifyMessage
    }

    // Not exported by Swift's Glibc module (they need _GNU_SOURCE); values from <asm-generic/socket.h> and
    // <bits/socket.h>, the same on every architecture this project builds for (x86_64, aarch64).
    private static let optionPassCredentials: Int32 = 16 // SO_PASSCRED
    private static let credentialsMessage: Int32 = 2 // SCM_CREDENTIALS
    /// systemd reads notifications into a buffer of this size (NOTIFY_BUFFER_MAX); longer ones are dropped.
    private static let maximumDatagram = 4096

    /// Creates and binds the socket (replacing a stale file at `path`).
    /// - Parameter path: The socket file.
    /// - Throws: ``InferctlError`` (`.system`).
    init(path: String) throws(InferctlError) {
        unlink(path)
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { throw .system("cannot create the notify socket: \(errorText(errno))") }
        guard let address = SocketAddress(unixPath: path) else {
            close(descriptor)
            throw .configuration("notify socket path \(path) is too long; choose a shorter --runtime-dir")
        }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, Self.optionPassCredentials, &one, socklen_t(MemoryLayout<Int32>.size))
        // Many daemons ping at once after a restart of the stack; a larger queue keeps READY=1 from being lost.
        var bufferSize: Int32 = 1 << 20
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
        guard address.withSockaddr({ bind(descriptor, $0, $1) }) == 0 else {
            let code = errno
            close(descriptor)
            throw .system("cannot bind the notify socket \(path): \(errorText(code))")
        }
        chmod(path, 0o660)
        self.path = path
        self.descriptor = descriptor
        file = FileIdentity(path: path)
    }

    deinit {
        close(descriptor)
        file?.unlinkIfSame(path)
    }

    /// Reads every datagram waiting, without blocking.
    /// - Returns: The datagrams in arrival order.
    func receiveAll() -> [Datagram] {
        var datagrams: [Datagram] = []
        while let datagram = receive() { datagrams.append(datagram) }
        return datagrams
    }

    private func receive() -> Datagram? {
        var data = [UInt8](repeating: 0, count: Self.maximumDatagram)
        // Room for the credentials and for descriptors a daemon might send (FDSTORE=1), which are closed.
        var control = [UInt64](repeating: 0, count: 64)
        while true {
            let (count, flags, controlLength): (Int, Int32, Int) = data.withUnsafeMutableBytes { dataBytes in
                control.withUnsafeMutableBytes { controlBytes in
                    var vector = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var header = msghdr()
                        header.msg_iov = vectorPointer
                        header.msg_iovlen = 1
                        header.msg_control = controlBytes.baseAddress
                        header.msg_controllen = controlBytes.count
                        let received = recvmsg(descriptor, &header, Int32(MSG_DONTWAIT) | Int32(MSG_CMSG_CLOEXEC))
                        return (received, header.msg_flags, Int(header.msg_controllen))
                    }
                }
            }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            let (sender, passed) = control.withUnsafeBytes { Self.parseControl($0, length: controlLength) }
            for descriptor in passed { close(descriptor) }
            if flags & Int32(MSG_TRUNC) != 0 { continue }
            return Datagram(senderPID: sender, message: NotifyMessage(data[0..<count]))
        }
    }

    /// Walks the control messages (the CMSG_* macros, which Swift cannot import): the sender's pid from
    /// SCM_CREDENTIALS, and any descriptors from SCM_RIGHTS.
    private static func parseControl(_ bytes: UnsafeRawBufferPointer, length: Int) -> (pid_t?, [Int32]) {
        let headerSize = MemoryLayout<cmsghdr>.size
        let alignment = MemoryLayout<Int>.size
        func aligned(_ value: Int) -> Int { (value + alignment - 1) & ~(alignment - 1) }
        var pid: pid_t?
        var descriptors: [Int32] = []
        var offset = 0
        let end = min(length, bytes.count)
        while offset + headerSize <= end {
            let header = bytes.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self)
            let messageLength = Int(header.cmsg_len)
            guard messageLength >= headerSize, offset + messageLength <= end else { break }
            let dataOffset = offset + aligned(headerSize)
            let dataLength = messageLength - aligned(headerSize)
            if header.cmsg_level == SOL_SOCKET, header.cmsg_type == credentialsMessage,
               dataLength >= MemoryLayout<Int32>.size * 3 {
                // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
                pid = bytes.loadUnaligned(fromByteOffset: dataOffset, as: Int32.self)
            } else if header.cmsg_level == SOL_SOCKET, header.cmsg_type == Int32(SCM_RIGHTS) {
                for index in 0..<(dataLength / MemoryLayout<Int32>.size) {
                    descriptors.append(bytes.loadUnaligned(
                        fromByteOffset: dataOffset + index * MemoryLayout<Int32>.size, as: Int32.self))
                }
            }
            offset += aligned(messageLength)
        }
        return (pid, descriptors)
    }
}
