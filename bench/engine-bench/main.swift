import Engine
import Foundation
let m = try LlamaModel(path: "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
for threads in [1, 2] {
EngineThreads.set(threads)
let cache = m.makeCache()
var t0 = Date()
var logits = try m.forward([.init(cache: cache, tokens: [6403, 1980, 253, 655])])[0]
let top = logits.enumerated().sorted { $0.element > $1.element }.prefix(5).map { ($0.offset, $0.element) }
print(top, Date().timeIntervalSince(t0))
var out: [Int32] = []
t0 = Date()
for _ in 0..<40 {
    let next = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
    out.append(next)
    logits = try m.forward([.init(cache: cache, tokens: [next])])[0]
}
let dt = Date().timeIntervalSince(t0)
print(out, String(format: "%.1f tok/s", 40 / dt))
}
