import Basics
import Foundation
import Glibc
import Reactor
import Synchronization

/// The keep-alive connections of one client to its plain-`http://` upstream, on the process's event loop
/// (`EventLoop.shared`): a request takes the connection that finished last (warm), or opens a new one;
/// a connection whose answer ended cleanly waits for the next request, up to ``maxIdle`` of them.
///
/// ``send(_:on:)`` may be called from any thread; everything else runs on the loop's thread.
final class HTTP1ConnectionPool: @unchecked Sendable {
    // @unchecked: `idle` is touched on the loop's thread only; `resolved` is in a Mutex.

    /// How long a host name's address is kept before it is looked up again.
    static let resolutionLifetime: Duration = .seconds(30)

    let loop: EventLoop
    /// The host as the URL names it (an IP literal or a name; IPv6 without brackets).
    let host: String
    let port: UInt16
    /// Connections kept while idle.
    let maxIdle: Int
    private var idle: [HTTP1Connection] = []
    private let resolved = Mutex<(address: String, until: ContinuousClock.Instant)?>(nil)

    init(loop: EventLoop, host: String, port: UInt16, maxIdle: Int) {
        self.loop = loop
        self.host = host
        self.port = port
        self.maxIdle = maxIdle
    }

    deinit {
        let idle = self.idle
        loop.execute { for connection in idle { connection.close() } }
    }

    /// Starts `transfer`'s exchange: its cancellation (or timeout) closes its connection.
    /// - Parameter request: the request's bytes, head and body.
    func send(_ request: [UInt8], on transfer: Transfer) {
        let exchange = HTTP1Exchange(request: request, transfer: transfer)
        let loop = self.loop
        let cancelledAlready = transfer.begin(timersOn: loop) { [weak exchange] in
            guard let exchange else { return }
            loop.execute {
                exchange.cancelled = true
                exchange.connection?.cancelExchange()
            }
        }
        if cancelledAlready { exchange.cancelled = true }
        // A host name is looked up here, on the caller's thread, never on the loop's.
        let address = literalAddress() ?? lookUp()
        if loop.inLoop {
            start(exchange, address: address)
        } else {
            loop.execute { [self] in start(exchange, address: address) }
        }
    }

    /// On the loop: the exchange on a warm connection, or on a new one (`fresh`: always a new one).
    func start(_ exchange: HTTP1Exchange, fresh: Bool = false, address: String? = nil) {
        if exchange.cancelled {
            exchange.transfer.didComplete(failure: HTTP1Failure(kind: .connectionReset, detail: "cancelled before it was sent"))
            return
        }
        if !fresh {
            while let connection = idle.popLast() {
                if connection.isOpen {
                    connection.carry(exchange)
                    return
                }
            }
        }
        guard let literal = address ?? literalAddress() ?? cachedAddress(),
            let socketAddress = SocketAddress(ipLiteral: literal, port: port)
        else {
            exchange.transfer.didComplete(failure: HTTP1Failure(kind: .connectFailed, detail: "cannot resolve the host name"))
            return
        }
        let connection = HTTP1Connection(loop: loop, pool: self)
        if let failure = connection.open(to: socketAddress) {
            exchange.transfer.didComplete(failure: failure)
            return
        }
        connection.carry(exchange)
    }

    /// On the loop: keeps a connection whose answer ended cleanly for the next request.
    /// - Returns: false when enough are idle already (the caller closes it).
    func keep(_ connection: HTTP1Connection) -> Bool {
        guard idle.count < maxIdle else { return false }
        idle.append(connection)
        return true
    }

    /// On the loop: a connection closed.
    func forget(_ connection: HTTP1Connection) {
        idle.removeAll { $0 === connection }
    }

    // MARK: Addresses

    private func literalAddress() -> String? {
        SocketAddress(ipLiteral: host, port: port) != nil ? host : nil
    }

    private func cachedAddress() -> String? {
        resolved.withLock { $0?.address }
    }

    /// The host name's first address (IPv4 or IPv6), looked up with getaddrinfo (the system's resolver:
    /// /etc/hosts, DNS) and kept for ``resolutionLifetime``; nil when it has none.
    private func lookUp() -> String? {
        let now = ContinuousClock.now
        if let kept = resolved.withLock({ $0 }), kept.until > now { return kept.address }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            let info = current.pointee
            if let address = info.ai_addr {
                let converted: UnsafePointer<CChar>?
                if info.ai_family == AF_INET {
                    converted = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        var raw = v4.pointee.sin_addr
                        return inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                    }
                } else if info.ai_family == AF_INET6 {
                    converted = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        var raw = v6.pointee.sin6_addr
                        return inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                    }
                } else {
                    converted = nil
                }
                if converted != nil {
                    let address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    resolved.withLock { $0 = (address, now + Self.resolutionLifetime) }
                    return address
                }
            }
            entry = info.ai_next
        }
        return nil
    }
}
