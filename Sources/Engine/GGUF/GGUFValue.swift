/// One metadata value of a GGUF file, keeping the exact type the file declared.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// An array: the declared element type and the elements.
    case array(GGUFValueType, [GGUFValue])

    /// The value as an integer, for any integer type (nil for other types or when it does not fit).
    public var int: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value as a floating-point number, for float and integer types.
    public var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: int.map(Double.init)
        }
    }

    /// The value as a string, for string values.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements as strings, for arrays of strings.
    public var stringArray: [String]? {
        guard case .array(.string, let items) = self else { return nil }
        return items.compactMap(\.string)
    }

    /// The elements as integers, for arrays of any integer type.
    public var intArray: [Int]? {
        guard case .array(_, let items) = self else { return nil }
        let ints = items.compactMap(\.int)
        return ints.count == items.count ? ints : nil
    }
}

/// The value type codes of GGUF metadata.
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// The smallest number of bytes one value of this type takes, used to refuse arrays whose
    /// declared length cannot fit in what is left of the file before allocating for them.
    var minimumBytes: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64, .string: 8
        case .array: 12
        }
    }
}
