#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file. Model weights are used straight from the mapping, so
/// the kernel pages them in on demand and shares them between processes that map the same file.
public final class MappedFile: @unchecked Sendable {
    /// The first byte of the mapping (valid for `count` bytes while the object lives).
    public let base: UnsafeRawPointer
    /// The file's size in bytes.
    public let count: Int
    /// The path the file was opened from, for error messages.
    public let path: String

    /// Maps `path` read-only.
    /// - Throws: `ModelFileError` naming the path when the file cannot be opened, is empty or cannot be mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelFileError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelFileError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelFileError("\(path) is not a regular file") }
        let size = Int(st.st_size)
        guard size > 0 else { throw ModelFileError("\(path) is empty") }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw ModelFileError("cannot map \(path): \(String(cString: strerror(errno)))") }
        base = UnsafeRawPointer(p)
        count = size
    }

    /// The mapping as a raw buffer.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), count) }
}

/// A model file that cannot be used: the message names the file and what is wrong with it.
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, e.g. `tensor blk.0.attn_q.weight has unsupported type Q5_K (13)`.
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
