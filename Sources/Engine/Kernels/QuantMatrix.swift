/// A weight matrix stored in a GGML block format, used in place (from the memory-mapped file):
/// `rows` output features, each a contiguous row of `cols` input weights.
public struct QuantMatrix: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let type: GGMLType
    public let rows: Int
    public let cols: Int
    /// Bytes from the start of one row to the next.
    public let rowBytes: Int

    /// Wraps `rows` rows of `cols` elements of `type` at `base`; `cols` must be a whole number of blocks.
    public init(base: UnsafeRawPointer, type: GGMLType, rows: Int, cols: Int) {
        precondition(cols % type.blockSize == 0, "matrix row length must be whole blocks")
        self.base = base
        self.type = type
        self.rows = rows
        self.cols = cols
        self.rowBytes = cols / type.blockSize * type.blockBytes
    }

    /// Wraps a 2-D tensor of a GGUF file (`shape[0]` is the row length).
    public init(_ file: GGUFFile, _ info: GGUFFile.TensorInfo) {
        self.init(base: file.data(of: info), type: info.type, rows: info.shape.dropFirst().reduce(1, *), cols: info.shape[0])
    }

    /// The first byte of row `r`.
    @inline(__always) public func row(_ r: Int) -> UnsafeRawPointer { base + r * rowBytes }

    /// Writes row `r` as `cols` floats into `out`.
    @inline(__always) public func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        BlockDecoding.dequantize(type, row(r), count: cols, into: out)
    }
}
