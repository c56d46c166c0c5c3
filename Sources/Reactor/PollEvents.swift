import CLinux

/// epoll event bits, as `UInt32`.
package enum PollEvents {
    package static let readable = EPOLLIN.rawValue
    package static let writable = EPOLLOUT.rawValue
    package static let readHangup = EPOLLRDHUP.rawValue
    package static let hangup = EPOLLHUP.rawValue
    package static let error = EPOLLERR.rawValue
    /// Report a change of readiness once, not for as long as it lasts.
    package static let edgeTriggered = EPOLLET.rawValue
    /// Of several epoll instances watching one listening socket, wake one per connection, not all.
    package static let exclusive = EPOLLEXCLUSIVE.rawValue
}
