import CSystemd
import Glibc

/// Sockets passed by systemd (socket activation), read once at start.
public enum SocketActivation {
    /// The listening sockets systemd passed, grouped by name (`FileDescriptorName=`; "unknown" when the
    /// unit names none).
    ///
    /// Reads `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` through `sd_listen_fds_with_names` and unsets
    /// them, so processes the daemon starts do not think the sockets are theirs. Descriptors start at 3 and
    /// are close-on-exec. Returns an empty dictionary when the daemon was not socket-activated (no
    /// variables, or `LISTEN_PID` names another process). Call it once: the variables are gone after.
    /// - Returns: The descriptors by name, in the order systemd passed them.
    /// - Throws: ``ListenerError`` when the variables are malformed.
    public static func listeners() throws(ListenerError) -> [String: [Int32]] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        defer {
            if let names {
                for index in 0..<Int(max(count, 0)) { free(names[index]) }
                free(names)
            }
        }
        guard count >= 0 else { throw .activation(errno: -count) }
        var result: [String: [Int32]] = [:]
        for index in 0..<Int(count) {
            let descriptor = SD_LISTEN_FDS_START + Int32(index)
            let name = names?[index].map { String(cString: $0) } ?? "unknown"
            result[name, default: []].append(descriptor)
        }
        return result
    }

    /// Checks that an inherited descriptor is what `spec` needs: a listening Unix stream socket, or a
    /// listening TCP socket (IPv4 or IPv6).
    /// - Parameters:
    ///   - descriptor: The inherited descriptor.
    ///   - spec: The socket the daemon asked for.
    /// - Throws: ``ListenerError`` saying what was expected and what the descriptor is.
    public static func validate(_ descriptor: Int32, for spec: SocketSpec) throws(ListenerError) {
        let streamType = Int32(SOCK_STREAM.rawValue)
        switch spec.endpoint {
        case .unix:
            if sd_is_socket_unix(descriptor, streamType, 1, nil, 0) > 0 { return }
            throw .wrongKind(name: spec.name, descriptor: descriptor,
                             expected: "a listening Unix stream socket", actual: describe(descriptor))
        case .tcp:
            // Family 0 accepts AF_INET and AF_INET6; port 0 accepts any port.
            if sd_is_socket_inet(descriptor, 0, streamType, 1, 0) > 0 { return }
            throw .wrongKind(name: spec.name, descriptor: descriptor,
                             expected: "a listening TCP socket", actual: describe(descriptor))
        }
    }

    /// Says what a descriptor is, for error messages: "a Unix datagram socket", "a TCP socket that is not
    /// listening", "a pipe", "no open descriptor".
    package static func describe(_ descriptor: Int32) -> String {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return "no open descriptor" }
        switch info.st_mode & S_IFMT {
        case S_IFSOCK: break
        case S_IFIFO: return "a pipe"
        case S_IFREG: return "a regular file"
        case S_IFCHR: return "a character device"
        case S_IFDIR: return "a directory"
        default: return "a descriptor that is not a socket"
        }
        let domain = socketOption(descriptor, SO_DOMAIN)
        let type = socketOption(descriptor, SO_TYPE)
        let listening = socketOption(descriptor, SO_ACCEPTCONN) == 1
        let family: String = switch domain {
        case AF_UNIX: "Unix"
        case AF_INET: "IPv4"
        case AF_INET6: "IPv6"
        case AF_NETLINK: "netlink"
        default: "family-\(domain ?? -1)"
        }
        let kind: String = switch type {
        case Int32(SOCK_STREAM.rawValue): family == "Unix" ? "stream" : "TCP"
        case Int32(SOCK_DGRAM.rawValue): family == "Unix" ? "datagram" : "UDP"
        case Int32(SOCK_SEQPACKET.rawValue): "seqpacket"
        default: "type-\(type ?? -1)"
        }
        return "a\(family == "IPv4" || family == "IPv6" ? "n" : "") \(family) \(kind) socket"
            + (type == Int32(SOCK_STREAM.rawValue) && !listening ? " that is not listening" : "")
    }

    private static func socketOption(_ descriptor: Int32, _ option: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(descriptor, SOL_SOCKET, option, &value, &length) == 0 ? value : nil
    }
}
