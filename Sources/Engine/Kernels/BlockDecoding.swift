/// Decoding of GGML's block formats to floats.
///
/// Layouts (all little-endian, blocks of 32 elements unless plain floats):
/// - Q4_0: f16 d, 16 bytes; element j is `qs[j] & 15`, element j+16 is `qs[j] >> 4`; x = d * (q - 8).
/// - Q4_1: f16 d, f16 m, 16 bytes, nibbles as Q4_0; x = d * q + m.
/// - Q8_0: f16 d, 32 int8; x = d * q.
public enum BlockDecoding {
    /// Reads a little-endian IEEE half at `p`.
    @inline(__always) static func half(_ p: UnsafeRawPointer) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self)))
    }

    /// Decodes `count` elements (a whole number of blocks) of `type` at `src` into `out`.
    public static func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32:
            out.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f16:
            for i in 0..<count { out[i] = half(src + 2 * i) }
        case .q4_0:
            for b in 0..<count / 32 {
                let blk = src + b * 18
                let d = half(blk)
                let q = (blk + 2).loadUnaligned(as: SIMD16<UInt8>.self)
                let lo = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: q & 15) &- 8) * d
                let hi = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: q &>> 4) &- 8) * d
                store(lo, out + b * 32)
                store(hi, out + b * 32 + 16)
            }
        case .q4_1:
            for b in 0..<count / 32 {
                let blk = src + b * 20
                let d = half(blk), m = half(blk + 2)
                let q = (blk + 4).loadUnaligned(as: SIMD16<UInt8>.self)
                let lo = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: q & 15)) * d + m
                let hi = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: q &>> 4)) * d + m
                store(lo, out + b * 32)
                store(hi, out + b * 32 + 16)
            }
        case .q8_0:
            for b in 0..<count / 32 {
                let blk = src + b * 34
                let d = half(blk)
                let q = (blk + 2).loadUnaligned(as: SIMD32<Int8>.self)
                let f = SIMD32<Float>(SIMD32<Int32>(truncatingIfNeeded: q)) * d
                store(f.lowHalf, out + b * 32)
                store(f.highHalf, out + b * 32 + 16)
            }
        }
    }

    @inline(__always) static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }
}
