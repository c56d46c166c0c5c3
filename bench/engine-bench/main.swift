import Engine
import Foundation
let g = try GGUFFile(path: "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
let m = QuantMatrix(g, g.tensorInfo("blk.0.ffn_gate.weight")!)
let x = UnsafeMutablePointer<Float>.allocate(capacity: m.cols * 8); for i in 0..<m.cols * 8 { x[i] = Float(i % 7) * 0.1 - 0.3 }
let y = UnsafeMutablePointer<Float>.allocate(capacity: m.rows * 8)
EngineThreads.set(1)
for round in 0..<3 {
  var t0 = Date(); for _ in 0..<500 { KernelBench.fused(m, x, y) }; let a = Date().timeIntervalSince(t0) / 500
  t0 = Date(); for _ in 0..<500 { MatMul.multiply(m, x, rows: 1, into: y) }; let b = Date().timeIntervalSince(t0) / 500
  t0 = Date(); for _ in 0..<100 { MatMul.multiply(m, x, rows: 8, into: y) }; let c = Date().timeIntervalSince(t0) / 100
  print(String(format: "fused %.0f us, tile1 %.0f us, tile8 %.0f us (%.0f us/row)", a*1e6, b*1e6, c*1e6, c*1e6/8))
}
