/// The tensor element types a GGUF file may hold that the engine can use, with their block layout.
public enum GGMLType: UInt32, Sendable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q8_0 = 8

    /// Elements per block (1 for plain floats).
    public var blockSize: Int {
        switch self {
        case .f32, .f16: 1
        case .q4_0, .q4_1, .q8_0: 32
        }
    }

    /// Bytes per block: Q4_0 is f16 d + 16 nibble bytes; Q4_1 f16 d, f16 m + 16 bytes; Q8_0 f16 d + 32 int8.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q8_0: 34
        }
    }

    /// Bytes taken by a row of `n` elements, or nil when `n` is not a whole number of blocks.
    public func rowBytes(_ n: Int) -> Int? {
        n % blockSize == 0 ? n / blockSize * blockBytes : nil
    }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q8_0: "Q8_0"
        }
    }

    /// Names of ggml types the engine does not support, for error messages.
    static func unsupportedName(_ raw: UInt32) -> String {
        let names: [UInt32: String] = [
            6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K",
            15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
            22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
            30: "BF16",
        ]
        return names[raw] ?? "unknown"
    }
}
