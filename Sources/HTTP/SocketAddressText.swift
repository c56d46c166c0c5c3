import CLinux
import Glibc

/// Text forms of peer addresses, for `HTTPRequest.remoteAddress` (rate-limit keys, logs).
enum SocketAddressText {
    /// The IP address of `storage` without port; IPv4-mapped IPv6 addresses are shown as IPv4.
    static func ip(_ storage: UnsafePointer<sockaddr_storage>) -> String {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            return storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                withUnsafeBytes(of: address.pointee.sin_addr) { ipv4($0) }
            }
        case AF_INET6:
            return storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                var raw = address.pointee.sin6_addr
                return withUnsafeBytes(of: &raw) { bytes -> String in
                    if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                        return ipv4(UnsafeRawBufferPointer(rebasing: bytes[12..<16]))
                    }
                    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    guard inet_ntop(AF_INET6, bytes.baseAddress, &text, socklen_t(text.count)) != nil else { return "" }
                    return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
            }
        case AF_UNIX:
            return "unix"
        default:
            return ""
        }
    }

    private static func ipv4(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(15)
        for (i, byte) in bytes.prefix(4).enumerated() {
            if i > 0 { out.append(ASCII.dot) }
            out.appendDecimal(Int(byte))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
