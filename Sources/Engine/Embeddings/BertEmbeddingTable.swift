/// A BERT model's word-embedding table ([vocabulary × hidden] floats), read in place from the mapped
/// safetensors file when it stores them as aligned F32, so only the pages of the rows a text uses ever
/// become resident (all-MiniLM-L6-v2's table is 47 MB of its 87 MB file, and a text touches a few
/// rows). Any other dtype or alignment is converted into an F32 copy at load, as before. The floats
/// are the same either way, so embeddings do not depend on which one is used.
final class BertEmbeddingTable: @unchecked Sendable {
    // Immutable after init: `rows` points into `file`'s mapping or into `copy`, both kept alive here.
    /// The first row.
    let rows: UnsafePointer<Float>
    /// Floats per row (the hidden size).
    let width: Int
    /// True when `rows` is the file's mapping rather than a copy.
    let isMapped: Bool
    private let file: SafeTensorsFile
    private let copy: UnsafeMutableBufferPointer<Float>?

    /// Reads tensor `name` of shape [vocabulary, width] from `file`.
    /// - Throws: `SafeTensorsError` when it is missing, has another shape or is not a float type.
    init(_ file: SafeTensorsFile, name: String, vocabulary: Int, width: Int) throws {
        self.file = file
        self.width = width
        if let mapped = try file.mappedFloats(name, shape: [vocabulary, width]), let start = mapped.baseAddress {
            rows = start
            copy = nil
            isMapped = true
        } else {
            let floats = try file.floats(name, shape: [vocabulary, width])
            let start = UnsafeMutablePointer<Float>.allocate(capacity: max(1, floats.count))
            floats.withUnsafeBufferPointer { source in
                if let from = source.baseAddress { start.initialize(from: from, count: source.count) }
            }
            rows = UnsafePointer(start)
            copy = UnsafeMutableBufferPointer(start: start, count: max(1, floats.count))
            isMapped = false
        }
    }

    deinit { copy?.baseAddress?.deallocate() }

    /// The row of token `id` (the caller has checked `id` against the vocabulary).
    @inline(__always)
    func row(_ id: Int) -> UnsafePointer<Float> { rows + id * width }
}
