public enum KernelBench {
    public static func matvec(_ m: QuantMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let blocks = m.cols / 32
        var xsum = [Float](repeating: 0, count: blocks)
        for b in 0..<blocks { var s: Float = 0; for i in 0..<32 { s += x[b * 32 + i] }; xsum[b] = s }
        let order = ActivationLayout.order(for: m.type)!
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: m.cols)
        defer { xp.deallocate() }
        order.withUnsafeBufferPointer { ActivationLayout.permute(x, count: m.cols, order: $0.baseAddress!, into: xp) }
        xsum.withUnsafeBufferPointer { xs in
            let xsp = xs.baseAddress!
            parallelChunks(m.rows, grain: 64) { r in
                if m.type == .q4_1 {
                    for i in r { y[i] = QuantDot.q4_1(m.row(i), xp, xsp, blocks: blocks) }
                } else {
                    for i in r { y[i] = QuantDot.q8_0(m.row(i), xp, blocks: blocks) }
                }
            }
        }
    }
    public static func reference(_ m: QuantMatrix, _ x: UnsafePointer<Float>, row: Int) -> Float {
        var buf = [Float](repeating: 0, count: m.cols)
        buf.withUnsafeMutableBufferPointer { m.dequantizeRow(row, into: $0.baseAddress!) }
        var s: Float = 0
        for i in 0..<m.cols { s += buf[i] * x[i] }
        return s
    }
}
