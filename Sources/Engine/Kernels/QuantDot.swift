/// Decoding of quantized blocks into SIMD registers for the mat-mul kernels.
///
/// Nibbles and bytes are pulled out of 32-bit lanes with vector shifts and masks, and turned into
/// floats with the "magic number" trick (OR the integer into the mantissa of 2^23, then subtract
/// 2^23). `SIMD8<Float>(someInt32Vector)` does compile to one `vcvtdq2ps` with Swift 6.3; in a clean
/// comparison it was equal within this host's noise, so the trick stays. The
/// extraction visits elements in a lane-major order, so the activations are permuted once per
/// matrix product into that same order (`ActivationLayout`).
enum QuantDot {
    // Constants are computed properties, not `static let`s: a global's lazy-initialisation check
    // inside the inner loop costs more than the arithmetic.
    @inline(__always) static var magic: SIMD8<UInt32> { SIMD8(repeating: 0x4B00_0000) }  // bit pattern of 2^23
    @inline(__always) static var magicFloat: SIMD8<Float> { SIMD8(repeating: 8_388_608) }
    /// 1.5 * 2^23: adding a signed value below 2^22 to its bit pattern stays in one binade.
    @inline(__always) static var signedMagic: SIMD8<Int32> { SIMD8(repeating: 0x4B40_0000) }
    @inline(__always) static var signedMagicFloat: SIMD8<Float> { SIMD8(repeating: 12_582_912) }
    /// Shift amounts that take the low nibbles of a 128-bit load into lanes 0-3 and the high ones into 4-7.
    @inline(__always) static var nibbleShift: SIMD8<UInt32> { SIMD8(0, 0, 0, 0, 4, 4, 4, 4) }

    /// The 32 values of a Q4_0/Q4_1 block's nibbles as floats (0...15), in `ActivationLayout` order.
    @inline(__always)
    static func nibbles(_ qs: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let v4 = qs.loadUnaligned(as: SIMD4<UInt32>.self)
        let v = SIMD8(lowHalf: v4, highHalf: v4) &>> nibbleShift
        let mask = SIMD8<UInt32>(repeating: 15)
        @inline(__always) func f(_ u: SIMD8<UInt32>) -> SIMD8<Float> {
            unsafeBitCast((u & mask) | magic, to: SIMD8<Float>.self) - magicFloat
        }
        return (f(v), f(v &>> 8), f(v &>> 16), f(v &>> 24))
    }

    /// The 32 signed bytes of a Q8_0 block as floats, in `ActivationLayout` order.
    @inline(__always)
    static func bytes(_ qs: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let v = qs.loadUnaligned(as: SIMD8<Int32>.self)
        @inline(__always) func f(_ s: SIMD8<Int32>) -> SIMD8<Float> {
            unsafeBitCast((s &>> 24) &+ signedMagic, to: SIMD8<Float>.self) - signedMagicFloat
        }
        return (f(v &<< 24), f(v &<< 16), f(v &<< 8), f(v))
    }
}

/// The order in which the kernels of `QuantDot` visit the 32 elements of a block, so activations can
/// be permuted to match: quarter k of a permuted block holds elements k, 4 + k, ..., 28 + k.
enum ActivationLayout {
    // Q4 blocks: pass k (0-3) of `QuantDot.nibbles` holds the low nibbles of bytes 4w+k in lanes
    // w = 0-3 (elements 4w+k) and the high nibbles in lanes 4-7 (elements 16+4w+k). Q8_0 blocks:
    // pass k holds byte k of each 32-bit lane w, element 4w+k. Both: quarter k = elements 4w+k,
    // w = 0-7 — the block read as eight groups of four, transposed.

    /// Whether the kernels for `type` read activations in the quarter order (not natural order).
    static func permutes(_ type: GGMLType) -> Bool {
        switch type {
        case .q4_0, .q4_1, .q8_0: true
        case .f32, .f16: false
        }
    }

    /// The four quarters of the block of 32 floats at `src`: quarter k holds elements 4w+k.
    @inline(__always)
    static func quarters(_ src: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let raw = UnsafeRawPointer(src)
        let a = raw.loadUnaligned(as: SIMD16<Float>.self), b = raw.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        let ae = a.evenHalf, ao = a.oddHalf, be = b.evenHalf, bo = b.oddHalf  // k even / k odd
        return (SIMD8(lowHalf: ae.evenHalf, highHalf: be.evenHalf), SIMD8(lowHalf: ao.evenHalf, highHalf: bo.evenHalf),
                SIMD8(lowHalf: ae.oddHalf, highHalf: be.oddHalf), SIMD8(lowHalf: ao.oddHalf, highHalf: bo.oddHalf))
    }

    /// Copies `count` floats (whole blocks) from `src` to `dst`, each block as its four quarters.
    @inline(__always)
    static func permute(_ src: UnsafePointer<Float>, count: Int, into dst: UnsafeMutablePointer<Float>) {
        var b = 0
        while b < count {
            let (q0, q1, q2, q3) = quarters(src + b)
            let out = UnsafeMutableRawPointer(dst + b)
            out.storeBytes(of: q0, toByteOffset: 0, as: SIMD8<Float>.self)
            out.storeBytes(of: q1, toByteOffset: 32, as: SIMD8<Float>.self)
            out.storeBytes(of: q2, toByteOffset: 64, as: SIMD8<Float>.self)
            out.storeBytes(of: q3, toByteOffset: 96, as: SIMD8<Float>.self)
            b += 32
        }
    }

    /// Like `permute`, then the split layout of `RowKernels.decodeRowSplit`: quarters 0 and 2 of
    /// every block in the first half of `dst`, quarters 1 and 3 in the second.
    @inline(__always)
    static func permuteSplit(_ src: UnsafePointer<Float>, count: Int, into dst: UnsafeMutablePointer<Float>) {
        let half = count / 2
        var b = 0
        while b < count {
            let (q0, q1, q2, q3) = quarters(src + b)
            let even = UnsafeMutableRawPointer(dst + b / 2), odd = UnsafeMutableRawPointer(dst + half + b / 2)
            even.storeBytes(of: q0, toByteOffset: 0, as: SIMD8<Float>.self)
            even.storeBytes(of: q2, toByteOffset: 32, as: SIMD8<Float>.self)
            odd.storeBytes(of: q1, toByteOffset: 0, as: SIMD8<Float>.self)
            odd.storeBytes(of: q3, toByteOffset: 32, as: SIMD8<Float>.self)
            b += 32
        }
    }
}
