import Foundation
@testable import Engine

/// Writes small GGUF files inside the tests, so the loader is checked on files whose every byte the
/// test controls (including broken ones).
struct GGUFBuilder {
    var version: UInt32 = 3
    var alignment = 32
    var metadata: [(String, GGUFValue)] = []
    var tensors: [(name: String, shape: [UInt64], type: UInt32, data: [UInt8])] = []

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        func typeCode(_ v: GGUFValue) -> UInt32 {
            switch v {
            case .uint8: 0
            case .int8: 1
            case .uint16: 2
            case .int16: 3
            case .uint32: 4
            case .int32: 5
            case .float32: 6
            case .bool: 7
            case .string: 8
            case .array: 9
            case .uint64: 10
            case .int64: 11
            case .float64: 12
            }
        }
        func value(_ v: GGUFValue) {
            switch v {
            case .uint8(let x): out.append(x)
            case .int8(let x): out.append(UInt8(bitPattern: x))
            case .uint16(let x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case .int16(let x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case .uint32(let x): u32(x)
            case .int32(let x): u32(UInt32(bitPattern: x))
            case .float32(let x): u32(x.bitPattern)
            case .bool(let x): out.append(x ? 1 : 0)
            case .string(let s): str(s)
            case .array(let t, let items):
                u32(t.rawValue)
                u64(UInt64(items.count))
                items.forEach(value)
            case .uint64(let x): u64(x)
            case .int64(let x): u64(UInt64(bitPattern: x))
            case .float64(let x): u64(x.bitPattern)
            }
        }
        out += Array("GGUF".utf8)
        u32(version)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (k, v) in metadata {
            str(k)
            u32(typeCode(v))
            value(v)
        }
        var offset: UInt64 = 0
        var offsets: [UInt64] = []
        for t in tensors {
            offsets.append(offset)
            offset += UInt64((t.data.count + alignment - 1) / alignment * alignment)
        }
        for (t, off) in zip(tensors, offsets) {
            str(t.name)
            u32(UInt32(t.shape.count))
            t.shape.forEach(u64)
            u32(t.type)
            u64(off)
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes the file to a fresh temporary path and returns the path.
    func write() throws -> String { try Self.write(bytes()) }

    static func write(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "infer-test-\(UUID().uuidString).gguf"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Little-endian IEEE half of a float, for building blocks by hand.
func halfBytes(_ f: Float) -> [UInt8] {
    let b = Float16(f).bitPattern
    return [UInt8(b & 0xFF), UInt8(b >> 8)]
}
