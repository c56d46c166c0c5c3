public enum KernelBench {
    public static func fused(_ m: QuantMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let blocks = m.cols / 32
        var xsum = [Float](repeating: 0, count: blocks)
        for b in 0..<blocks { var s: Float = 0; for i in 0..<32 { s += x[b * 32 + i] }; xsum[b] = s }
        xsum.withUnsafeBufferPointer { xs in
            let xsp = xs.baseAddress!
            for i in 0..<m.rows { y[i] = QuantDot.q4_1(m.row(i), x, xsp, blocks: blocks) }
        }
    }
}
