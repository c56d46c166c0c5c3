import Basics
import CLinux
import Glibc

/// A detached POSIX thread with a name (shown by ps, top -H and gdb) running a Swift closure: a loop's
/// thread, which must not be one of the concurrency runtime's, since it blocks (in epoll_wait here, in
/// poll for the Redis client's I/O thread), or another thread that blocks for its whole life (Tracing's
/// span exporter).
public enum LoopThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts the thread.
    /// - Parameters:
    ///   - name: the thread's name; the kernel keeps the first 15 bytes.
    ///   - body: what the thread runs; the thread ends when it returns.
    /// - Throws: ``SocketError`` (`pthread_create`) when the thread cannot be created.
    public static func spawn(name: String, _ body: @escaping @Sendable () -> Void) throws(SocketError) {
        let context = Unmanaged.passRetained(Body {
            clinux_set_thread_name(name)
            body()
        }).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<Body>.fromOpaque(context).takeRetainedValue().run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw SocketError(operation: "pthread_create", errno: result)
        }
        pthread_detach(thread)
    }
}
