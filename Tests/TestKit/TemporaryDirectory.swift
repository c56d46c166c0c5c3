import Basics
import Foundation
import Glibc

/// A fresh directory under /tmp, short enough that a socket path in it fits `sockaddr_un`'s 108 bytes;
/// removed by ``remove()`` or, at the latest, when the last reference goes.
public final class TemporaryDirectory: Sendable {
    /// The directory's absolute path.
    public let path: String

    /// Makes the directory (mode 0700).
    /// - Throws: `SocketError` naming `mkdtemp` when it cannot be made.
    public init() throws {
        var template = Array("/tmp/infer-t-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard let made else { throw SocketError(operation: "mkdtemp", errno: errno) }
        path = String(cString: made)
    }

    deinit {
        remove()
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Removes the directory and all it holds (again is harmless).
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
