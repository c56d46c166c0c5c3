import Foundation
import Testing
@testable import Engine

@Suite struct GGUFTests {
    static let everyType: [(String, GGUFValue)] = [
        ("u8", .uint8(200)), ("i8", .int8(-5)), ("u16", .uint16(60000)), ("i16", .int16(-300)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-70000)), ("f32", .float32(1.5)), ("bool", .bool(true)),
        ("str", .string("héllo")), ("u64", .uint64(1 << 40)), ("i64", .int64(-(1 << 40))), ("f64", .float64(-2.25)),
        ("arr", .array(.string, [.string("a"), .string("bc")])), ("ints", .array(.int32, [.int32(1), .int32(-2)])),
        ("nested", .array(.array, [.array(.uint8, [.uint8(1)])])),
    ]

    @Test(arguments: [UInt32(2), 3])
    func readsMetadataOfEveryType(version: UInt32) throws {
        var b = GGUFBuilder(version: version)
        b.metadata = Self.everyType
        let g = try GGUFFile(path: try b.write())
        #expect(g.version == version)
        for (k, v) in Self.everyType { #expect(g.metadata[k] == v, "\(k)") }
        #expect(g.metadata["u32"]?.int == 4_000_000_000)
        #expect(g.metadata["f32"]?.double == 1.5)
        #expect(g.metadata["arr"]?.stringArray == ["a", "bc"])
        #expect(g.metadata["ints"]?.intArray == [1, -2])
    }

    @Test func readsTensorInfosWithAlignment() throws {
        var b = GGUFBuilder(alignment: 64)
        b.metadata = [("general.alignment", .uint32(64))]
        b.tensors = [("a", [4], 0, [UInt8](repeating: 1, count: 16)), ("b", [32, 2], 8, [UInt8](repeating: 2, count: 68))]
        let g = try GGUFFile(path: try b.write())
        #expect(g.alignment == 64)
        let a = try #require(g.tensorInfo("a")), t = try #require(g.tensorInfo("b"))
        #expect(a.shape == [4] && a.type == .f32 && a.byteCount == 16)
        #expect(t.shape == [32, 2] && t.type == .q8_0 && t.byteCount == 68)
        #expect(t.fileOffset % 64 == 0 && t.fileOffset - a.fileOffset == 64)
        #expect(g.data(of: t).load(as: UInt8.self) == 2)
    }

    @Test func decodesQ4_0BlockByHand() {
        // d = 0.5; byte j holds element j (low nibble) and j+16 (high nibble); x = d * (q - 8).
        var blk = halfBytes(0.5)
        for j in 0..<16 { blk.append(UInt8(j) | UInt8(15 - j) << 4) }
        let out = decode(.q4_0, blk, 32)
        #expect(out[0] == -4 && out[1] == -3.5 && out[15] == 3.5)
        #expect(out[16] == 3.5 && out[31] == -4)
    }

    @Test func decodesQ4_1BlockByHand() {
        // d = 0.25, m = -1: x = d * q + m.
        var blk = halfBytes(0.25) + halfBytes(-1)
        for j in 0..<16 { blk.append(UInt8(j) | 3 << 4) }
        let out = decode(.q4_1, blk, 32)
        #expect(out[0] == -1 && out[5] == 0.25 && out[15] == 2.75)
        #expect(out[16] == -0.25 && out[31] == -0.25)
    }

    @Test func decodesQ8_0BlockByHand() {
        var blk = halfBytes(0.125)
        for j in 0..<32 { blk.append(UInt8(bitPattern: Int8(j * 8 - 128))) }
        let out = decode(.q8_0, blk, 32)
        #expect(out[0] == -16 && out[16] == 0 && out[31] == 15)
    }

    @Test func decodesF16AndF32() {
        #expect(decode(.f16, halfBytes(1.5) + halfBytes(-0.25), 2) == [1.5, -0.25])
        var f32: [UInt8] = []
        for v: Float in [3.25, -7] { withUnsafeBytes(of: v) { f32 += $0 } }
        #expect(decode(.f32, f32, 2) == [3.25, -7])
    }

    /// The mat-mul kernels (which decode blocks in registers, in a permuted order) agree with
    /// decoding rows and taking plain dot products, for every quantized type and batch size.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q8_0], [1, 3, 8, 11])
    func matMulMatchesDecodedRows(type: GGMLType, n: Int) {
        let rows = 5, cols = 64
        var rng = SplitMix64(seed: 7)
        let data = randomBlocks(type, count: rows * cols / 32, &rng)
        let x = (0..<(n * cols)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        var y = [Float](repeating: 0, count: n * rows)
        data.withUnsafeBytes { w in
            let m = QuantMatrix(base: w.baseAddress!, type: type, rows: rows, cols: cols)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { MatMul.multiply(m, xp.baseAddress!, rows: n, into: $0.baseAddress!) }
            }
            var row = [Float](repeating: 0, count: cols)
            for r in 0..<rows {
                row.withUnsafeMutableBufferPointer { m.dequantizeRow(r, into: $0.baseAddress!) }
                for t in 0..<n {
                    let want = (0..<cols).reduce(Float(0)) { $0 + row[$1] * x[t * cols + $1] }
                    #expect(abs(y[t * rows + r] - want) < 1e-3, "row \(r) token \(t)")
                }
            }
        }
    }

    /// A token's outputs are bit-for-bit the same alone (n = 1) and in any batch, whichever kernel
    /// shape (one token; two decoded rows × four tokens; four rows × one or two tokens; leftover rows) computed them.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q8_0], [2, 3, 4, 5, 8, 11, 16])
    func matMulIsBatchInvariant(type: GGMLType, n: Int) {
        let rows = 7, cols = 96
        var rng = SplitMix64(seed: 11)
        let data = randomBlocks(type, count: rows * cols / 32, &rng)
        let x = (0..<(n * cols)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        var batched = [Float](repeating: 0, count: n * rows)
        var alone = [Float](repeating: 0, count: n * rows)
        data.withUnsafeBytes { w in
            let m = QuantMatrix(base: w.baseAddress!, type: type, rows: rows, cols: cols)
            x.withUnsafeBufferPointer { xp in
                batched.withUnsafeMutableBufferPointer { MatMul.multiply(m, xp.baseAddress!, rows: n, into: $0.baseAddress!) }
                alone.withUnsafeMutableBufferPointer { y in
                    for t in 0..<n { MatMul.multiply(m, xp.baseAddress! + t * cols, rows: 1, into: y.baseAddress! + t * rows) }
                }
            }
        }
        #expect(batched == alone)
    }

    /// Q, K and V (or gate and up) multiplied in one pass give exactly what three separate products
    /// give, also when the matrices differ in block type (they then run one after the other).
    @Test(arguments: [[GGMLType.q4_1, .q4_1, .q4_1], [.q8_0, .q4_1, .q4_0]], [1, 8])
    func fusedProductsEqualSeparateOnes(types: [GGMLType], n: Int) {
        let cols = 64, rowCounts = [9, 4, 6]
        var rng = SplitMix64(seed: 5)
        let data = zip(types, rowCounts).map { randomBlocks($0, count: $1 * cols / 32, &rng) }
        let x = (0..<(n * cols)).map { _ in Float(rng.nextDouble() * 2 - 1) }
        var fused = rowCounts.map { [Float](repeating: 0, count: n * $0) }
        var separate = fused
        for i in 0..<3 {
            data[i].withUnsafeBytes { w in
                let m = QuantMatrix(base: w.baseAddress!, type: types[i], rows: rowCounts[i], cols: cols)
                separate[i].withUnsafeMutableBufferPointer { MatMul.multiply(m, x, rows: n, into: $0.baseAddress!) }
            }
        }
        let bases = data.map { d in UnsafeMutableRawPointer.allocate(byteCount: d.count, alignment: 32) }
        defer { bases.forEach { $0.deallocate() } }
        for i in 0..<3 { data[i].withUnsafeBytes { bases[i].copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        let ms = (0..<3).map { QuantMatrix(base: bases[$0], type: types[$0], rows: rowCounts[$0], cols: cols) }
        let outs = rowCounts.map { UnsafeMutablePointer<Float>.allocate(capacity: n * $0) }
        defer { outs.forEach { $0.deallocate() } }
        MatMul.multiply(ms, x, rows: n, into: outs)
        for i in 0..<3 { fused[i] = Array(UnsafeBufferPointer(start: outs[i], count: n * rowCounts[i])) }
        #expect(fused == separate)
        #expect(fused[0].contains { $0 != 0 })
    }

    /// `count` blocks of `type` with random quants and small positive scales (and offsets for Q4_1).
    func randomBlocks(_ type: GGMLType, count: Int, _ rng: inout SplitMix64) -> [UInt8] {
        var data: [UInt8] = []
        for _ in 0..<count {
            data += halfBytes(Float(rng.nextDouble()) * 0.1 + 0.01)
            if type == .q4_1 { data += halfBytes(Float(rng.nextDouble()) - 0.5) }
            for _ in 0..<(type == .q8_0 ? 32 : 16) { data.append(UInt8(truncatingIfNeeded: rng.next())) }
        }
        return data
    }

    func decode(_ type: GGMLType, _ bytes: [UInt8], _ n: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: n)
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { BlockDecoding.dequantize(type, src.baseAddress!, count: n, into: $0.baseAddress!) }
        }
        return out
    }

    // MARK: - Refusals

    static func validFile() -> [UInt8] {
        var b = GGUFBuilder()
        b.metadata = [("general.architecture", .string("llama")), ("names", .array(.string, [.string("x")]))]
        b.tensors = [("t", [32], 8, [UInt8](repeating: 0, count: 34))]
        return b.bytes()
    }

    static let corruptions: [(String, @Sendable (inout [UInt8]) -> Void, String)] = [
        ("empty", { $0 = [] }, "empty"),
        ("bad magic", { $0[0] = UInt8(ascii: "X") }, "not a GGUF file"),
        ("version 1", { $0[4] = 1 }, "unsupported GGUF version 1"),
        ("version 9", { $0[4] = 9 }, "unsupported GGUF version 9"),
        ("header only", { $0 = Array($0[0..<10]) }, "truncated"),
        ("huge tensor count", { $0[8 + 7] = 0x7F }, "tensor count"),
        ("huge metadata count", { $0[16 + 7] = 0x7F }, "metadata count"),
        ("huge key length", { $0[24 + 7] = 0x7F }, "length of metadata key"),
        ("unknown value type", { $0[24 + 8 + 20] = 99 }, "unknown value type 99"),
        ("truncated in tensor data", { $0.removeLast(40) }, "truncated"),
        ("truncated in tensor infos", { $0 = Array($0[0..<($0.count - 34 - 40)]) }, "truncated"),
    ]

    @Test(arguments: corruptions.indices)
    func refusesCorruptFiles(index: Int) throws {
        let (name, corrupt, expected) = Self.corruptions[index]
        var bytes = Self.validFile()
        corrupt(&bytes)
        let path = try GGUFBuilder.write(bytes)
        let error = try #require(throws: ModelFileError.self, "\(name)") { try GGUFFile(path: path) }
        #expect(error.message.contains(expected), "\(name): \(error.message)")
    }

    @Test func refusesUnsupportedTensorTypeByName() throws {
        var b = GGUFBuilder()
        b.tensors = [("blk.0.w", [256], 12, [UInt8](repeating: 0, count: 144))]
        let error = try #require(throws: ModelFileError.self) { try GGUFFile(path: try b.write()) }
        #expect(error.message.contains("blk.0.w") && error.message.contains("Q4_K"))
    }

    @Test func refusesTensorBeyondEndOfFile() throws {
        var b = GGUFBuilder()
        b.tensors = [("t", [32, 4], 8, [UInt8](repeating: 0, count: 34))]  // declares 4 rows, holds 1
        let error = try #require(throws: ModelFileError.self) { try GGUFFile(path: try b.write()) }
        #expect(error.message.contains("beyond the end"))
    }

    @Test func refusesBadRowLengthAndMissingFile() throws {
        var b = GGUFBuilder()
        b.tensors = [("t", [48], 8, [UInt8](repeating: 0, count: 68))]
        let e1 = try #require(throws: ModelFileError.self) { try GGUFFile(path: try b.write()) }
        #expect(e1.message.contains("multiple of the Q8_0 block size"))
        let e2 = try #require(throws: ModelFileError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(e2.message.contains("/nonexistent/model.gguf"))
    }

    @Test func refusesOtherArchitecture() throws {
        var b = GGUFBuilder()
        b.metadata = [("general.architecture", .string("mamba"))]
        let error = try #require(throws: ModelFileError.self) { try LlamaModel(path: try b.write()) }
        #expect(error.message.contains("unsupported architecture mamba"))
    }
}
