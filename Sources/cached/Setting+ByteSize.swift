import Basics
import IPC
import Settings

/// Bytes in a kibibyte; the suffixes K, M and G are powers of it.
private let bytesPerKibibyte = 1024

extension Setting where Value == Int {
    /// A size in bytes (`CACHE_MAX_BYTES`): a plain number of bytes, or one with a binary suffix `K`/`KiB`,
    /// `M`/`MiB` or `G`/`GiB`, in any case (`64MiB`, `512k`).
    /// - Parameters:
    ///   - name: The environment variable.
    ///   - defaultValue: The value when unset or empty.
    ///   - meaning: One sentence for `--help` and the docs.
    ///   - bytes: The sizes accepted.
    init(name: String, default defaultValue: Int, meaning: String, bytes range: ClosedRange<Int>) {
        self.init(
            name: name, default: defaultValue, meaning: meaning,
            expected: "a size in bytes between \(formatByteSize(range.lowerBound)) and "
                + "\(formatByteSize(range.upperBound)) (a number, or with a suffix: 512K, 64MiB, 1G)",
            describeDefault: formatByteSize
        ) { text in
            guard let value = parseByteSize(text), range.contains(value) else { return nil }
            return value
        }
    }
}

/// Parses `1048576`, `1024K`, `1MiB` or `1g`.
/// - Parameter text: Trimmed text.
/// - Returns: The number of bytes, or nil for anything else (other suffixes, signs, overflow).
func parseByteSize(_ text: String) -> Int? {
    let digits = text.prefix { $0.isASCII && $0.isNumber }
    let suffix = text.dropFirst(digits.count).trimmingWhitespace().lowercased()
    let multiplier: Int
    switch suffix {
    case "", "b": multiplier = 1
    case "k", "kib": multiplier = bytesPerKibibyte
    case "m", "mib": multiplier = bytesPerKibibyte * bytesPerKibibyte
    case "g", "gib": multiplier = bytesPerKibibyte * bytesPerKibibyte * bytesPerKibibyte
    default: return nil
    }
    guard !digits.isEmpty, let number = Int(digits) else { return nil }
    let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : bytes
}

/// Writes a byte count with the largest binary suffix that divides it exactly (`64MiB`, `1000`).
func formatByteSize(_ bytes: Int) -> String {
    for (suffix, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes >= size && bytes % size == 0 {
        return "\(bytes / size)\(suffix)"
    }
    return "\(bytes)"
}
