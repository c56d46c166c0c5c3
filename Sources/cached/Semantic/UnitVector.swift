/// An embedding made ready for the semantic index: checked, scaled to unit length, and padded with zeros
/// to a whole number of ``UnitVector/lanes`` so the scan needs no tail loop.
///
/// frontd sends MiniLM's embeddings, which are unit length already; a vector that is not (another model,
/// rounding) is normalised here, so a dot product is always the cosine similarity. A vector that cannot
/// be normalised — empty, all zeros, or holding NaN or infinity — is refused.
struct UnitVector: Equatable, Sendable {
    /// The scan's vector width: 16 floats, one AVX-512 register or two AVX2 ones.
    static let lanes = 16
    /// Most dimensions accepted (the wire format's own limit is 4096).
    static let maxDimension = 4096
    /// How far a norm may be from 1 before the vector is scaled (float rounding of a unit vector stays far
    /// inside it).
    private static let normTolerance: Float = 1e-4

    /// The dimension frontd sent (384 for MiniLM).
    let dimension: Int
    /// The components, unit length, then zeros up to a multiple of ``lanes``.
    let padded: [Float]

    /// Checks and normalises `components`.
    /// - Parameter components: The embedding as it arrived.
    /// - Returns: nil when it is empty, longer than ``maxDimension``, zero, or not finite.
    init?(_ components: [Float]) {
        guard !components.isEmpty, components.count <= Self.maxDimension,
              components.allSatisfy(\.isFinite) else { return nil }
        var squares: Float = 0
        for component in components { squares += component * component }
        guard squares > 0, squares.isFinite else { return nil }
        let norm = squares.squareRoot()
        let stride = Self.stride(for: components.count)
        var padded = [Float](repeating: 0, count: stride)
        let scale: Float = abs(norm - 1) > Self.normTolerance ? 1 / norm : 1
        for index in components.indices { padded[index] = components[index] * scale }
        dimension = components.count
        self.padded = padded
    }

    /// Floats a vector of `dimension` takes in the index: `dimension` rounded up to whole lanes.
    static func stride(for dimension: Int) -> Int {
        (dimension + lanes - 1) / lanes * lanes
    }

    /// The dot product of two padded vectors of `stride` floats: with both unit length, their cosine.
    ///
    /// Four independent SIMD16 accumulators, so the adds of one block do not wait for the previous block's
    /// (a single accumulator would make the loop as slow as the add latency); the index calls this in its
    /// scan over a group, which is the whole cost of a semantic lookup.
    /// - Parameters:
    ///   - a: The first vector's floats (at least `stride`).
    ///   - b: The second's (at least `stride`).
    ///   - stride: A multiple of ``lanes``.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, stride: Int) -> Float {
        typealias Block = SIMD16<Float>
        let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
        let blockBytes = MemoryLayout<Float>.stride * lanes
        let blocks = stride / lanes
        var s0 = Block(), s1 = Block(), s2 = Block(), s3 = Block()
        var block = 0
        while block + 4 <= blocks {
            let offset = block * blockBytes
            s0 += rawA.loadUnaligned(fromByteOffset: offset, as: Block.self)
                * rawB.loadUnaligned(fromByteOffset: offset, as: Block.self)
            s1 += rawA.loadUnaligned(fromByteOffset: offset + blockBytes, as: Block.self)
                * rawB.loadUnaligned(fromByteOffset: offset + blockBytes, as: Block.self)
            s2 += rawA.loadUnaligned(fromByteOffset: offset + 2 * blockBytes, as: Block.self)
                * rawB.loadUnaligned(fromByteOffset: offset + 2 * blockBytes, as: Block.self)
            s3 += rawA.loadUnaligned(fromByteOffset: offset + 3 * blockBytes, as: Block.self)
                * rawB.loadUnaligned(fromByteOffset: offset + 3 * blockBytes, as: Block.self)
            block += 4
        }
        while block < blocks {
            let offset = block * blockBytes
            s0 += rawA.loadUnaligned(fromByteOffset: offset, as: Block.self)
                * rawB.loadUnaligned(fromByteOffset: offset, as: Block.self)
            block += 1
        }
        return ((s0 + s1) + (s2 + s3)).sum()
    }
}
