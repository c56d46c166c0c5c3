import Foundation

/// Small vector operations of the transformer layers, on raw float buffers.
public enum VectorOps {
    /// Σ a[i] * b[i].
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        KernelSet.active.dot(a, b, count)
    }

    /// y[i] += a * x[i].
    @inline(__always)
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        KernelSet.active.axpy(a, x, y, count)
    }

    /// out = x / sqrt(mean(x²) + eps) * weight (RMSNorm); `out` may be `x`.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float, count: Int, into out: UnsafeMutablePointer<Float>) {
        var ss: Double = 0
        for i in 0..<count { ss += Double(x[i]) * Double(x[i]) }
        let scale = Float(1 / (ss / Double(count) + Double(eps)).squareRoot())
        for i in 0..<count { out[i] = x[i] * scale * weight[i] }
    }

    /// Softmax of `count` values in place.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var mx = -Float.infinity
        for i in 0..<count { mx = max(mx, x[i]) }
        var sum: Float = 0
        for i in 0..<count { let e = expf(x[i] - mx); x[i] = e; sum += e }
        let inv = 1 / sum
        for i in 0..<count { x[i] *= inv }
    }

    /// gate[i] = silu(gate[i]) * up[i] (SwiGLU).
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// x[i] += y[i].
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += y[i] }
    }
}
