// engine-bench: measures the built-in engine on this machine and prints one JSON object.
//
//   engine-bench [--models DIR] [--sentences FILE] [--quick|--smoke]
//                                                              decode, batching, prefill, embeddings
//                                                              (--smoke: each once, on a few tokens: seconds)
//   engine-bench memory [--models DIR]                         peak RSS at batch 8 × 512-token sequences
//   engine-bench decode --batch N [--tokens M] [--threads T] [--repeat R]
//                                                              one decode figure, with CPU seconds per token
//   engine-bench matmul [--batch N]                            each matrix shape alone, 1 and 2 threads
//                                                              (best of five: wall and CPU µs per product)
//   engine-bench prefill --tokens N,N,... [--threads T] [--repeat R]
//                                                              prompt processing against prompt length
//
// Release builds only (`swift build -c release`); bench/run-engine-bench.sh runs it with the peers.
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct BenchError: Error, CustomStringConvertible { let description: String }

let args = Array(CommandLine.arguments.dropFirst())
let mode = ["memory", "decode", "matmul", "prefill"].contains(args.first ?? "") ? args[0] : "speed"
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}
let modelsDir = option("--models") ?? ProcessInfo.processInfo.environment["INFER_MODELS_DIR"] ?? "models"
let sentencesFile = option("--sentences") ?? "bench/sentences.txt"
/// Every figure once, on a few tokens: the bench test's check that the program still runs.
let smoke = args.contains("--smoke")
let quick = smoke || args.contains("--quick")

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

func peakRSSMiB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

let gguf = try GGUFFile(path: modelsDir + "/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
let model = try LlamaModel(gguf: gguf)
let tokenizer = try BPETokenizer(gguf: gguf)
let prompts = [
    "Once upon a time", "The capital of France is", "def fibonacci(n):", "In a distant galaxy,",
    "The recipe for pancakes:", "Dear hiring manager,", "The theory of relativity", "My favourite animal is",
    "Breaking news:", "The best way to learn", "Here is a poem about the sea:", "Step 1:",
    "The history of Rome", "Climate change is", "To install the package,", "Question: why is the sky blue?",
].map { tokenizer.encode($0) }

/// Aggregate decode tokens/s of `b` sequences generating `n` tokens each (prefill not timed).
func decodeRate(batch b: Int, tokens n: Int) throws -> Double {
    let d = BatchDecoder(model: model, tokenizer: tokenizer, maxBatch: b)
    for i in 0..<b {
        var p = GenerationParameters.greedy(maxTokens: n + 1)
        p.ignoreEndTokens = true  // every sequence runs its full length, as in the llama.cpp peer
        try d.add(id: i, prompt: prompts[i % prompts.count], parameters: p)
    }
    _ = try d.step()  // prefill of every prompt
    var produced = 0
    let t = try seconds {
        while !d.isEmpty { produced += try d.step().count }
    }
    return Double(produced) / t
}

/// User + system CPU seconds the calling thread has used so far.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// User + system CPU seconds this process has used so far.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(u.ru_utime) + s(u.ru_stime)
}

if mode == "decode" {
    // One figure at a time, for profiling and A/B runs: wall-clock rate and CPU time per token, which
    // drifts far less than wall time on a shared host (spinning workers count too, so compare like with like).
    let b = Int(option("--batch") ?? "8") ?? 8
    let n = Int(option("--tokens") ?? "64") ?? 64
    let repeats = Int(option("--repeat") ?? "3") ?? 3
    EngineThreads.set(Int(option("--threads") ?? "2") ?? 2)
    _ = try decodeRate(batch: 1, tokens: 8)
    for _ in 0..<repeats {
        let c0 = cpuSeconds()
        let d = BatchDecoder(model: model, tokenizer: tokenizer, maxBatch: b)
        for i in 0..<b {
            var p = GenerationParameters.greedy(maxTokens: n + 1)
            p.ignoreEndTokens = true
            try d.add(id: i, prompt: prompts[i % prompts.count], parameters: p)
        }
        _ = try d.step()
        var stepTimes: [Double] = []
        while !d.isEmpty { stepTimes.append(try seconds { _ = try d.step() }) }
        let cpuMsPerToken = (cpuSeconds() - c0) * 1000 / Double(b * n)
        stepTimes.sort()
        let median = stepTimes[stepTimes.count / 2], total = stepTimes.reduce(0, +)
        // The median step is what the host's stolen time disturbs least; use it to compare builds.
        print(String(format: "batch %d: %.1f tokens/s (%.1f at the median step, %.1f at the fastest), %.2f CPU ms/token",
                     b, Double(b * n) / total, Double(b) / median, Double(b) / stepTimes[0], cpuMsPerToken))
    }
    exit(0)
}

if mode == "prefill" {
    // How prompt processing grows with the prompt (bench/run-growth-curves.sh): one prompt of each
    // length in one forward pass, the best of --repeat runs. The text is bench/sentences.txt over and
    // over, as the llama.cpp peer's --prefill-sizes reads it.
    let lengths = (option("--tokens") ?? "16,64,256,1024").split(separator: ",").compactMap { Int($0) }
    let repeats = Int(option("--repeat") ?? "2") ?? 2
    EngineThreads.set(Int(option("--threads") ?? "2") ?? 2)
    guard let longest = lengths.max(), longest > 0, longest <= model.config.contextLength else {
        throw BenchError(description: "--tokens takes lengths from 1 to the context length \(model.config.contextLength)")
    }
    let text = (try? String(contentsOfFile: sentencesFile, encoding: .utf8)) ?? "The quick brown fox jumps over the lazy dog."
    let passage = tokenizer.encode(text.replacingOccurrences(of: "\n", with: " "))
    var ids: [Int32] = []
    while ids.count < longest { ids += passage }
    _ = try model.forward([.init(cache: model.makeCache(), tokens: Array(ids.prefix(16)))])  // warm-up: page in the weights
    var rates: [String: Double] = [:]
    for n in lengths {
        var best = 0.0, bestCPU = Double.infinity
        for _ in 0..<repeats {
            let c0 = cpuSeconds()
            let t = try seconds { _ = try model.forward([.init(cache: model.makeCache(), tokens: Array(ids.prefix(n)))]) }
            best = max(best, Double(n) / t)
            bestCPU = min(bestCPU, (cpuSeconds() - c0) * 1000 / Double(n))
        }
        // CPU ms per token as well: on a shared host it drifts far less than the wall-clock rate.
        log(String(format: "prefill %d tokens: %.1f tokens/s, %.2f CPU ms/token", n, best, bestCPU))
        rates["\(n)"] = best
    }
    let out: [String: Any] = ["mode": "prefill", "threads": EngineThreads.count, "prefill": rates]
    print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
    exit(0)
}

if mode == "matmul" {
    // Where parallel speed-up is lost: each of the model's matrix shapes multiplied alone.
    let n = Int(option("--batch") ?? "8") ?? 8
    for name in ["blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_down.weight", "token_embd.weight"] {
        guard let info = gguf.tensorInfo(name) else { continue }
        let w = QuantMatrix(gguf, info)
        let x = (0..<(n * w.cols)).map { _ in Float.random(in: -1...1) }
        var y = [Float](repeating: 0, count: n * w.rows)
        var line = "\(name) \(w.type) \(w.rows)x\(w.cols), n \(n):"
        for threads in [1, 2] {
            EngineThreads.set(threads)
            let calls = max(20, 2_000_000_000 / (w.rows * w.cols * n))
            var bestMicros = Double.infinity, bestCPUMicros = Double.infinity
            for _ in 0..<5 {
                // CPU time as well as wall time: on a shared host the wall clock also counts the time
                // other processes held the core, CPU time (this thread alone with 1 thread, the whole
                // process with 2, spinning worker included) mostly does not.
                let c0 = threads == 1 ? threadCPUSeconds() : cpuSeconds()
                let t = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        seconds { for _ in 0..<calls { MatMul.multiply(w, xp.baseAddress!, rows: n, into: yp.baseAddress!) } }
                    }
                }
                let cpu = (threads == 1 ? threadCPUSeconds() : cpuSeconds()) - c0
                bestMicros = min(bestMicros, t / Double(calls) * 1e6)
                bestCPUMicros = min(bestCPUMicros, cpu / Double(calls) * 1e6)
            }
            line += String(format: "  %dt %.1f µs (CPU %.1f µs)", threads, bestMicros, bestCPUMicros)
        }
        print(line)
    }
    exit(0)
}

if mode == "memory" {
    // Batch 8, each sequence 256 prompt tokens + 256 generated = 512 positions.
    let text = String(repeating: "The quick brown fox jumps over the lazy dog near the river bank. ", count: 40)
    let long = Array(tokenizer.encode(text).prefix(256))
    let d = BatchDecoder(model: model, tokenizer: tokenizer, maxBatch: 8)
    var p = GenerationParameters.greedy(maxTokens: 256)
    p.ignoreEndTokens = true
    for i in 0..<8 { try d.add(id: i, prompt: long, parameters: p) }
    var steps = 0
    let t = try seconds { while !d.isEmpty { _ = try d.step(); steps += 1 } }
    let kvPerSeq = 2 * model.config.layers * model.config.kvWidth * 4 * 512
    let out: [String: Any] = [
        "mode": "memory", "batch": 8, "positions_per_sequence": 256 + steps, "seconds": t,
        "peak_rss_mib": peakRSSMiB(), "kv_f32_mib_at_512": Double(8 * kvPerSeq) / 1048576,
        "model_file_mib": Double(gguf.file.count) / 1048576,
    ]
    print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
    exit(0)
}

/// The best of `reps` runs, as the llama.cpp peer reports its figures: on a shared host (the
/// hypervisor steals 10-15 % of a core here even when idle) the best run is the one least disturbed.
let reps = quick ? 1 : 3
func best(_ run: () throws -> Double) rethrows -> Double {
    var top = 0.0
    for _ in 0..<reps { top = max(top, try run()) }
    return top
}

var result: [String: Any] = ["engine": "infer built-in (Swift)", "threads_available": ProcessInfo.processInfo.activeProcessorCount]
let single = smoke ? 4 : quick ? 32 : 128
for threads in [1, 2] {
    EngineThreads.set(threads)
    _ = try decodeRate(batch: 1, tokens: 8)  // warm-up: page in the weights
    let r = try best { try decodeRate(batch: 1, tokens: single) }
    log(String(format: "decode single stream, %d thread(s): %.1f tokens/s", threads, r))
    result["decode_\(threads)t"] = r
}
EngineThreads.set(2)
var batch: [String: Double] = [:]
for b in smoke ? [1, 2] : [1, 2, 4, 8, 16] {
    let r = try best { try decodeRate(batch: b, tokens: smoke ? 4 : quick ? 16 : 64) }
    log(String(format: "aggregate decode, batch %2d: %.1f tokens/s", b, r))
    batch["\(b)"] = r
}
result["batch"] = batch

// Prefill: one 256-token prompt in one forward pass.
let prefillText = String(repeating: "The quick brown fox jumps over the lazy dog near the river bank. ", count: 40)
let prefillIDs = Array(tokenizer.encode(prefillText).prefix(smoke ? 32 : 256))
var bestPrefill = 0.0
for _ in 0..<(quick ? 1 : 3) {
    let t = try seconds { _ = try model.forward([.init(cache: model.makeCache(), tokens: prefillIDs)]) }
    bestPrefill = max(bestPrefill, Double(prefillIDs.count) / t)
}
log(String(format: "prefill 256 tokens: %.1f tokens/s", bestPrefill))
result["prefill_256"] = bestPrefill

// Embeddings: batch 32 of ~20-word sentences.
if let text = try? String(contentsOfFile: sentencesFile, encoding: .utf8) {
    let sentences = Array(text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }.prefix(smoke ? 4 : .max))
    let embedder = try BertEmbedder(directory: modelsDir + "/minilm")
    for threads in [1, 2] {
        EngineThreads.set(threads)
        var best = 0.0
        for _ in 0..<(quick ? 1 : 3) {
            var n = 0
            let t = try seconds {
                var i = 0
                while i < sentences.count {
                    let chunk = Array(sentences[i..<min(sentences.count, i + 32)])
                    n += try embedder.embed(chunk).count
                    i += 32
                }
            }
            best = max(best, Double(n) / t)
        }
        log(String(format: "embeddings, batch 32, %d thread(s): %.1f sentences/s", threads, best))
        result["emb_\(threads)t"] = best
    }
    result["sentences"] = sentences.count
} else {
    log("no \(sentencesFile): embeddings not measured")
}
result["peak_rss_mib"] = peakRSSMiB()
print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
