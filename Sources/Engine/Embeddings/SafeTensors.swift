import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error from reading a safetensors file; its description names the file and what was wrong.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    enum Kind: Equatable {
        case cannotOpen(errno: Int32)
        case cannotMap(errno: Int32)
        case tooSmall(size: Int)
        case headerTooLarge(headerLength: UInt64, available: Int)
        case headerOverLimit(headerLength: UInt64, limit: Int)
        case headerNotJSON(String)
        case headerNotObject
        case badEntry(tensor: String, reason: String)
        case unknownDType(tensor: String, dtype: String)
        case offsetsOutOfRange(tensor: String, begin: Int, end: Int, dataSize: Int)
        case sizeMismatch(tensor: String, expected: Int, actual: Int)
        case missingTensor(String)
        case notConvertible(tensor: String, dtype: String)
        case unexpectedShape(tensor: String, expected: [Int], actual: [Int])
    }

    let kind: Kind
    /// The file the error concerns (empty when unknown).
    public let path: String

    init(_ kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }

    public var description: String {
        let file = path.isEmpty ? "safetensors" : "safetensors file \(path)"
        switch kind {
        case .cannotOpen(let e):
            return "\(file): cannot open (\(String(cString: strerror(e))))"
        case .cannotMap(let e):
            return "\(file): cannot memory-map (\(String(cString: strerror(e))))"
        case .tooSmall(let size):
            return "\(file): \(size) bytes is too small for the 8-byte header length"
        case .headerTooLarge(let length, let available):
            return "\(file): header length \(length) exceeds the \(available) bytes after the length field"
        case .headerOverLimit(let length, let limit):
            return "\(file): header length \(length) exceeds the \(limit)-byte limit"
        case .headerNotJSON(let why):
            return "\(file): header is not valid JSON (\(why))"
        case .headerNotObject:
            return "\(file): header is not a JSON object"
        case .badEntry(let tensor, let reason):
            return "\(file): tensor '\(tensor)': \(reason)"
        case .unknownDType(let tensor, let dtype):
            return "\(file): tensor '\(tensor)' has unknown dtype '\(dtype)'"
        case .offsetsOutOfRange(let tensor, let begin, let end, let dataSize):
            return "\(file): tensor '\(tensor)' data_offsets [\(begin), \(end)] are outside the \(dataSize)-byte data section"
        case .sizeMismatch(let tensor, let expected, let actual):
            return "\(file): tensor '\(tensor)' spans \(actual) bytes but its shape and dtype need \(expected)"
        case .missingTensor(let name):
            return "\(file): no tensor named '\(name)'"
        case .notConvertible(let tensor, let dtype):
            return "\(file): tensor '\(tensor)' has dtype \(dtype), which cannot be read as Float"
        case .unexpectedShape(let tensor, let expected, let actual):
            return "\(file): tensor '\(tensor)' has shape \(actual), expected \(expected)"
        }
    }
}

/// The element types the safetensors format defines.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }
}

/// Where one tensor lives in a safetensors file.
public struct SafeTensorInfo: Sendable, Equatable {
    /// The tensor's element type.
    public let dtype: SafeTensorsDType
    /// The tensor's dimensions, outermost first.
    public let shape: [Int]
    /// Byte offset of the tensor's data from the start of the file.
    public let fileOffset: Int
    /// Size of the tensor's data in bytes.
    public let byteCount: Int
    /// Number of elements (the product of `shape`).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file, memory-mapped read-only and validated when opened.
///
/// The format is an 8-byte little-endian header length, a JSON header mapping tensor names to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data section that
/// follows the header) plus an optional `"__metadata__"` object of strings, then the raw data.
/// Every tensor's offsets and size are checked against the file when it is opened, so reading a
/// tensor afterwards cannot run outside the mapping.
public final class SafeTensorsFile: @unchecked Sendable {
    // Immutable after init; the mapping is only read, so sharing across threads is safe.
    private let base: UnsafeRawPointer
    private let mappedSize: Int
    /// The file this was opened from.
    public let path: String
    /// The largest JSON header accepted, as in the reference `safetensors` library (100 MB).
    public static let maxHeaderLength = 100_000_000
    /// The tensors in the file, by name.
    public let tensors: [String: SafeTensorInfo]
    /// The header's `__metadata__` strings (empty when absent).
    public let metadata: [String: String]

    /// Opens, memory-maps and validates a safetensors file.
    /// - Parameter path: The file's path.
    /// - Throws: `SafeTensorsError` naming the problem when the file cannot be read or is malformed.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw SafeTensorsError(.cannotOpen(errno: errno), path: path) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw SafeTensorsError(.cannotOpen(errno: errno), path: path) }
        let size = Int(st.st_size)
        if size < 8 { throw SafeTensorsError(.tooSmall(size: size), path: path) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw SafeTensorsError(.cannotMap(errno: errno), path: path)
        }
        let base = UnsafeRawPointer(mapped)
        do {
            let parsed = try SafeTensorsFile.parse(UnsafeRawBufferPointer(start: base, count: size), path: path)
            self.tensors = parsed.tensors
            self.metadata = parsed.metadata
        } catch {
            munmap(mapped, size)
            throw error
        }
        self.base = base
        self.mappedSize = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), mappedSize)
    }

    /// The tensor names, sorted.
    public var names: [String] { tensors.keys.sorted() }

    /// The tensor's location and type.
    /// - Throws: `SafeTensorsError` when there is no tensor of that name.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let info = tensors[name] else { throw SafeTensorsError(.missingTensor(name), path: path) }
        return info
    }

    /// Calls `body` with the tensor's raw bytes (valid only during the call).
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let info = try info(name)
        return try body(UnsafeRawBufferPointer(start: base + info.fileOffset, count: info.byteCount))
    }

    /// The elements of an F32 tensor in place, inside the mapping (valid while this file lives), when the
    /// tensor starts 4-byte aligned; nil for any other dtype or alignment (read those with `floats`).
    /// Nothing is copied: a page of the tensor becomes resident only when it is read.
    /// - Throws: `SafeTensorsError` when the tensor is missing or has another shape than `expected`.
    public func mappedFloats(_ name: String, shape expected: [Int]) throws -> UnsafeBufferPointer<Float>? {
        let info = try info(name)
        if expected != info.shape {
            throw SafeTensorsError(.unexpectedShape(tensor: name, expected: expected, actual: info.shape), path: path)
        }
        let start = base + info.fileOffset
        guard info.dtype == .f32, Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return UnsafeBufferPointer(start: start.assumingMemoryBound(to: Float.self), count: info.elementCount)
    }

    /// Drops this process's resident pages of the mapping (`MADV_DONTNEED`): the file is unchanged and
    /// still mapped, so a page read later is faulted in again from the page cache. For after the tensors
    /// that were copied out at load have been read, so they stop counting in the process's memory.
    public func releaseResidentPages() {
        _ = madvise(UnsafeMutableRawPointer(mutating: base), mappedSize, Int32(MADV_DONTNEED))
    }

    /// Reads a floating-point tensor as `Float`, converting F16, BF16 and F64.
    /// - Parameters:
    ///   - name: The tensor's name.
    ///   - shape: When given, the shape the tensor must have.
    /// - Returns: The elements in row-major order.
    /// - Throws: `SafeTensorsError` when the tensor is missing, has another shape or is not a float type.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        let info = try info(name)
        if let expected, expected != info.shape {
            throw SafeTensorsError(.unexpectedShape(tensor: name, expected: expected, actual: info.shape), path: path)
        }
        let n = info.elementCount
        let src = base + info.fileOffset
        switch info.dtype {
        case .f32:
            // memcpy: the data section need not be 4-byte aligned.
            return [Float](unsafeUninitializedCapacity: n) { buf, count in
                if n > 0, let dst = buf.baseAddress { memcpy(dst, src, n * 4) }
                count = n
            }
        case .f16:
            return [Float](unsafeUninitializedCapacity: n) { buf, count in
                for i in 0..<n {
                    let bits = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                    buf[i] = Float(Float16(bitPattern: UInt16(littleEndian: bits)))
                }
                count = n
            }
        case .bf16:
            return [Float](unsafeUninitializedCapacity: n) { buf, count in
                for i in 0..<n {
                    let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    buf[i] = Float(bitPattern: UInt32(bits) << 16)
                }
                count = n
            }
        case .f64:
            return [Float](unsafeUninitializedCapacity: n) { buf, count in
                for i in 0..<n {
                    let bits = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    buf[i] = Float(Double(bitPattern: bits))
                }
                count = n
            }
        default:
            throw SafeTensorsError(.notConvertible(tensor: name, dtype: info.dtype.rawValue), path: path)
        }
    }

    /// Parses and validates the header of a complete safetensors image.
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws
        -> (tensors: [String: SafeTensorInfo], metadata: [String: String])
    {
        func fail(_ kind: SafeTensorsError.Kind) -> SafeTensorsError { SafeTensorsError(kind, path: path) }
        let size = bytes.count
        guard size >= 8, let base = bytes.baseAddress else { throw fail(.tooSmall(size: size)) }
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        let available = size - 8
        guard headerLength <= UInt64(available) else {
            throw fail(.headerTooLarge(headerLength: headerLength, available: available))
        }
        guard headerLength <= UInt64(SafeTensorsFile.maxHeaderLength) else {
            throw fail(.headerOverLimit(headerLength: headerLength, limit: SafeTensorsFile.maxHeaderLength))
        }
        let headerCount = Int(headerLength)
        let headerData = Data(bytes: base + 8, count: headerCount)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData, options: [])
        } catch {
            throw fail(.headerNotJSON(headerCount == 0 ? "empty header" : "\(headerCount)-byte header does not parse"))
        }
        guard let object = json as? [String: Any] else { throw fail(.headerNotObject) }

        let dataStart = 8 + headerCount
        let dataSize = size - dataStart
        var tensors: [String: SafeTensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let dict = value as? [String: Any] else {
                    throw fail(.badEntry(tensor: name, reason: "__metadata__ is not an object"))
                }
                for (key, item) in dict {
                    guard let text = item as? String else {
                        throw fail(.badEntry(tensor: name, reason: "metadata value for '\(key)' is not a string"))
                    }
                    metadata[key] = text
                }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw fail(.badEntry(tensor: name, reason: "entry is not an object"))
            }
            guard let dtypeName = entry["dtype"] as? String else {
                throw fail(.badEntry(tensor: name, reason: "missing or non-string dtype"))
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw fail(.unknownDType(tensor: name, dtype: dtypeName))
            }
            guard let shapeValues = entry["shape"] as? [Any] else {
                throw fail(.badEntry(tensor: name, reason: "missing or non-array shape"))
            }
            var shape: [Int] = []
            var elements = 1
            for dim in shapeValues {
                guard let d = exactInt(dim), d >= 0 else {
                    throw fail(.badEntry(tensor: name, reason: "shape \(shapeValues) has a dimension that is not a non-negative integer"))
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail(.badEntry(tensor: name, reason: "shape \(shapeValues) overflows")) }
                elements = product
                shape.append(d)
            }
            guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = exactInt(offsets[0]), let end = exactInt(offsets[1])
            else {
                throw fail(.badEntry(tensor: name, reason: "data_offsets must be two integers"))
            }
            guard begin >= 0, end >= begin, end <= dataSize else {
                throw fail(.offsetsOutOfRange(tensor: name, begin: begin, end: end, dataSize: dataSize))
            }
            let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, expected == end - begin else {
                throw fail(.sizeMismatch(tensor: name, expected: overflow ? Int.max : expected, actual: end - begin))
            }
            tensors[name] = SafeTensorInfo(dtype: dtype, shape: shape, fileOffset: dataStart + begin, byteCount: end - begin)
        }
        return (tensors, metadata)
    }
}

/// The value as an `Int` when it is a JSON integer (not a fraction, within ±2^53).
private func exactInt(_ value: Any) -> Int? {
    guard let number = value as? NSNumber else { return nil }
    let d = number.doubleValue
    guard d.isFinite, d == d.rounded(), abs(d) < 9.0e15 else { return nil }
    return number.intValue
}
