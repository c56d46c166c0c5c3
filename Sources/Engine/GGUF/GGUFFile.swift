/// A GGUF model file (versions 2 and 3): its metadata, its tensor directory and the memory-mapped
/// tensor data. Every length and offset is checked against the file before it is used, so a
/// truncated or corrupt file is refused with a `ModelFileError` instead of crashing.
public final class GGUFFile: @unchecked Sendable {
    /// Where a tensor lives and what it holds.
    public struct TensorInfo: Sendable {
        public let name: String
        /// Dimensions in GGUF order: `shape[0]` is the row length (contiguous), then rows, ...
        public let shape: [Int]
        public let type: GGMLType
        /// Byte offset of the data from the start of the file.
        public let fileOffset: Int
        public let byteCount: Int
        public var elementCount: Int { shape.reduce(1, *) }
    }

    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [TensorInfo]
    public let alignment: Int
    /// The mapping the tensors are read from.
    public let file: MappedFile
    private let index: [String: Int]

    /// The file's path.
    public var path: String { file.path }

    /// Opens and validates the GGUF file at `path`.
    /// - Throws: `ModelFileError` naming the file and the first problem found.
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses an already mapped file.
    public init(file: MappedFile) throws {
        self.file = file
        var r = ByteReader(bytes: file.bytes, path: file.path)
        let magic = try r.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {  // "GGUF" little-endian
            throw ModelFileError("\(file.path) is not a GGUF file (bad magic)")
        }
        version = try r.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw ModelFileError("\(file.path): unsupported GGUF version \(version) (supported: 2, 3)")
        }
        let tensorCount = try r.readCount("tensor count", minimumBytesEach: 24)
        let kvCount = try r.readCount("metadata count", minimumBytesEach: 12)
        var meta: [String: GGUFValue] = [:]
        meta.reserveCapacity(kvCount)
        for _ in 0..<kvCount {
            let key = try r.readString("metadata key")
            let raw = try r.read(UInt32.self, "type of \(key)")
            guard let type = GGUFValueType(rawValue: raw) else {
                throw ModelFileError("\(file.path): metadata \(key) has unknown value type \(raw)")
            }
            meta[key] = try r.readValue(type, key: key, depth: 0)
        }
        metadata = meta
        let align = meta["general.alignment"]?.int ?? 32
        guard align > 0, align & (align - 1) == 0, align <= 1 << 20 else {
            throw ModelFileError("\(file.path): general.alignment \(align) is not a power of two")
        }
        alignment = align

        var infos: [(String, [Int], GGMLType, Int)] = []
        infos.reserveCapacity(tensorCount)
        for _ in 0..<tensorCount {
            let name = try r.readString("tensor name")
            let dims = try r.read(UInt32.self, "dimension count of \(name)")
            guard dims >= 1, dims <= 4 else {
                throw ModelFileError("\(file.path): tensor \(name) has \(dims) dimensions (1 to 4 allowed)")
            }
            var shape: [Int] = []
            for _ in 0..<dims {
                let d = try r.read(UInt64.self, "shape of \(name)")
                guard d >= 1, d <= 1 << 32 else {
                    throw ModelFileError("\(file.path): tensor \(name) has dimension \(d)")
                }
                shape.append(Int(d))
            }
            let rawType = try r.read(UInt32.self, "type of \(name)")
            guard let type = GGMLType(rawValue: rawType) else {
                throw ModelFileError("\(file.path): tensor \(name) has unsupported type \(GGMLType.unsupportedName(rawType)) (\(rawType))")
            }
            let offset = try r.read(UInt64.self, "offset of \(name)")
            guard offset < UInt64(file.count) else {
                throw ModelFileError("\(file.path): tensor \(name) offset \(offset) is beyond the end of the file")
            }
            infos.append((name, shape, type, Int(offset)))
        }
        let dataStart = (r.offset + align - 1) / align * align
        var list: [TensorInfo] = []
        var idx: [String: Int] = [:]
        for (name, shape, type, offset) in infos {
            guard offset % align == 0 else {
                throw ModelFileError("\(file.path): tensor \(name) offset \(offset) is not aligned to \(align)")
            }
            guard let rowBytes = type.rowBytes(shape[0]) else {
                throw ModelFileError("\(file.path): tensor \(name) row length \(shape[0]) is not a multiple of the \(type) block size \(type.blockSize)")
            }
            var bytes = rowBytes
            for d in shape.dropFirst() {
                let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
                guard !overflow else { throw ModelFileError("\(file.path): tensor \(name) is too large") }
                bytes = p
            }
            let start = dataStart + offset
            guard start <= file.count, bytes <= file.count - start else {
                throw ModelFileError("\(file.path): tensor \(name) (\(bytes) bytes at \(start)) extends beyond the end of the file (\(file.count) bytes); the file is truncated")
            }
            guard idx[name] == nil else { throw ModelFileError("\(file.path): tensor \(name) appears twice") }
            idx[name] = list.count
            list.append(TensorInfo(name: name, shape: shape, type: type, fileOffset: start, byteCount: bytes))
        }
        tensors = list
        index = idx
    }

    /// The tensor called `name`, or nil.
    public func tensorInfo(_ name: String) -> TensorInfo? { index[name].map { tensors[$0] } }

    /// The raw bytes of a tensor, valid while this file object lives.
    public func data(of info: TensorInfo) -> UnsafeRawPointer { file.base + info.fileOffset }

    /// A required tensor with the expected shape.
    /// - Throws: `ModelFileError` when it is missing or has another shape.
    public func tensor(_ name: String, shape: [Int]) throws -> TensorInfo {
        guard let t = tensorInfo(name) else { throw ModelFileError("\(path): tensor \(name) is missing") }
        guard t.shape == shape else {
            throw ModelFileError("\(path): tensor \(name) has shape \(t.shape), expected \(shape)")
        }
        return t
    }

    /// A required integer metadata value.
    public func requireInt(_ key: String) throws -> Int {
        guard let v = metadata[key] else { throw ModelFileError("\(path): metadata \(key) is missing") }
        guard let i = v.int else { throw ModelFileError("\(path): metadata \(key) is not an integer") }
        return i
    }

    /// A required floating-point metadata value.
    public func requireDouble(_ key: String) throws -> Double {
        guard let v = metadata[key] else { throw ModelFileError("\(path): metadata \(key) is missing") }
        guard let d = v.double else { throw ModelFileError("\(path): metadata \(key) is not a number") }
        return d
    }
}

/// A bounds-checked little-endian cursor over the file's bytes.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var offset = 0

    /// Nesting of arrays within arrays allowed in metadata (GGUF uses one level).
    static let maxArrayDepth = 4

    private func truncated(_ what: String) -> ModelFileError {
        ModelFileError("\(path) is truncated: \(what) at byte \(offset) runs past the end of the file (\(bytes.count) bytes)")
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else { throw truncated(what) }
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: v)
    }

    /// Reads a u64 element count and refuses one that could not fit in the rest of the file.
    mutating func readCount(_ what: String, minimumBytesEach: Int) throws -> Int {
        let n = try read(UInt64.self, what)
        guard n <= UInt64(bytes.count - offset) / UInt64(max(1, minimumBytesEach)) else {
            throw ModelFileError("\(path): \(what) \(n) cannot fit in the file (corrupt or truncated)")
        }
        return Int(n)
    }

    mutating func readString(_ what: String) throws -> String {
        let n = try readCount("length of \(what)", minimumBytesEach: 1)
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]), as: UTF8.self)
        offset += n
        return s
    }

    mutating func readValue(_ type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, key))
        case .int8: return .int8(try read(Int8.self, key))
        case .uint16: return .uint16(try read(UInt16.self, key))
        case .int16: return .int16(try read(Int16.self, key))
        case .uint32: return .uint32(try read(UInt32.self, key))
        case .int32: return .int32(try read(Int32.self, key))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, key)))
        case .uint64: return .uint64(try read(UInt64.self, key))
        case .int64: return .int64(try read(Int64.self, key))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, key)))
        case .bool:
            let b = try read(UInt8.self, key)
            guard b <= 1 else { throw ModelFileError("\(path): metadata \(key) has bool value \(b)") }
            return .bool(b == 1)
        case .string: return .string(try readString(key))
        case .array:
            guard depth < Self.maxArrayDepth else { throw ModelFileError("\(path): metadata \(key) nests arrays too deeply") }
            let raw = try read(UInt32.self, "element type of \(key)")
            guard let elem = GGUFValueType(rawValue: raw) else {
                throw ModelFileError("\(path): metadata \(key) has unknown element type \(raw)")
            }
            let n = try readCount("length of \(key)", minimumBytesEach: elem.minimumBytes)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try readValue(elem, key: key, depth: depth + 1)) }
            return .array(elem, items)
        }
    }
}
