// cache-bench: cached measured through its socket, as frontd calls it (bench/run-cache-bench.sh starts the
// cached instances and redis-server, then runs this once):
//   1. exact hits per backend: latency of one caller (p50, p99) and hits per second with 32 callers in
//      flight on one connection, for each `NAME=SOCKET` given;
//   2. semantic lookups against the number of entries in one group (384-dimension unit vectors, as
//      MiniLM's): microseconds per SemanticGet, and the same less an empty group's (the scan alone).
//
//   cache-bench SECONDS SEMANTIC_SOCKET SIZES NAME=SOCKET...
//   (SIZES: comma-separated entry counts, ascending, e.g. 1000,10000,100000)
import Foundation
import IPC
import Services

/// Prints a line at once (stdout is block-buffered when piped).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("cache-bench: \(message)\n".utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 5, let seconds = Double(arguments[1]) else {
    fail("usage: cache-bench SECONDS SEMANTIC_SOCKET SIZES NAME=SOCKET...")
}
let semanticSocket = arguments[2]
let sizes = arguments[3].split(separator: ",").compactMap { Int($0) }
let backends = arguments[4...].map { argument -> (name: String, path: String) in
    let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
    guard parts.count == 2 else { fail("expected NAME=SOCKET, got \(argument)") }
    return (parts[0], parts[1])
}
let timeout = Duration.seconds(10)
let clock = ContinuousClock()

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// A deterministic pseudo-random unit vector (SplitMix64), so every run scans the same data.
struct Vectors {
    var state: UInt64
    mutating func next(dimension: Int = 384) -> [Float] {
        var components = [Float](repeating: 0, count: dimension)
        var squares: Float = 0
        for index in 0..<dimension {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            components[index] = Float(Int64(bitPattern: z) % 1000) / 1000
            squares += components[index] * components[index]
        }
        let norm = squares.squareRoot()
        return components.map { $0 / norm }
    }
}

// MARK: 1. exact hits per backend

let entries = 1000
let value = [UInt8](repeating: 0x41, count: 2048)
say("exact hits through cached's socket: \(entries) entries of \(value.count) bytes, \(seconds) s per figure")
say("| backend | hit p50 µs (1 caller) | hit p99 µs (1 caller) | hits/s (32 callers) | misses (1 caller) |")
say("|---|---|---|---|---|")
/// Times exact hits on every backend.
func exactTable() async {
    for backend in backends {
        let client = CacheClient(path: backend.path)
        do {
            _ = try await client.clear(model: nil, timeout: timeout)
            for index in 0..<entries {
                try await client.put(.init(key: "bench/\(index)", model: "bench", value: value), timeout: timeout)
            }
            // Warm up (tiered: the first hits fill memory from Redis).
            for index in 0..<entries { _ = try await client.get("bench/\(index)", timeout: timeout) }

            var samples: [Double] = []
            var misses = 0
            var index = 0
            let end = clock.now + .milliseconds(Int(seconds * 1000))
            while clock.now < end {
                let began = clock.now
                let reply = try await client.get("bench/\(index % entries)", timeout: timeout)
                samples.append(microseconds(clock.now - began))
                if reply.value == nil { misses += 1 }
                index += 1
            }
            samples.sort()

            let callers = 32
            let started = clock.now
            let stop = started + .milliseconds(Int(seconds * 1000))
            let hits = try await withThrowingTaskGroup(of: Int.self) { group in
                for caller in 0..<callers {
                    group.addTask {
                        var count = 0
                        while clock.now < stop {
                            _ = try await client.get("bench/\((caller * 31 + count) % entries)", timeout: timeout)
                            count += 1
                        }
                        return count
                    }
                }
                var total = 0
                for try await count in group { total += count }
                return total
            }
            let rate = Double(hits) / (microseconds(clock.now - started) / 1e6)
            say(String(format: "| %@ | %.1f | %.1f | %.0f | %d of %d |", backend.name, percentile(samples, 0.5), percentile(samples, 0.99),
                   rate, misses, samples.count))
        } catch {
            fail("\(backend.name): \(error)")
        }
        client.client.close()
    }
}

await exactTable()

// MARK: 2. semantic lookups against entries

say("")
say("semantic lookups through cached's socket: one group, 384-dimension unit vectors, threshold 0.95 (a miss: the whole group is scanned)")
say("| entries in the group | µs per SemanticGet (median) | less an empty group's (the scan) | ns per entry scanned |")
say("|---|---|---|---|")
/// Fills one group step by step and times lookups at each size.
func semanticTable() async {
    let semantic = CacheClient(path: semanticSocket)
    var vectors = Vectors(state: 42)
    func lookupMedian(group: String, lookups: Int, vectors: inout Vectors) async throws -> Double {
        var samples: [Double] = []
        for _ in 0..<lookups {
            let query = CacheProtocol.SemanticGet(key: .init(group: group, vector: vectors.next()), threshold: 0.95)
            let began = clock.now
            _ = try await semantic.semanticGet(query, timeout: timeout)
            samples.append(microseconds(clock.now - began))
        }
        samples.sort()
        return percentile(samples, 0.5)
}
do {
    _ = try await semantic.clear(model: nil, timeout: timeout)
    let baseline = try await lookupMedian(group: "empty", lookups: 200, vectors: &vectors)
    say(String(format: "| 0 | %.1f | 0 | - |", baseline))
    var stored = 0
    for size in sizes {
        // Fill the group up to `size`, many Puts in flight.
        let batch = 64
        while stored < size {
            let upTo = min(size, stored + batch)
            let fill = (stored..<upTo).map { ($0, vectors.next()) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, vector) in fill {
                    group.addTask {
                        try await semantic.put(
                            .init(key: "semantic/\(index)", model: "bench", value: [1, 2, 3],
                                  semantic: .init(group: "bench-group", vector: vector)), timeout: timeout)
                    }
                }
                try await group.waitForAll()
            }
            stored = upTo
        }
        let lookups = max(20, min(500, 2_000_000 / size))
        let median = try await lookupMedian(group: "bench-group", lookups: lookups, vectors: &vectors)
        let scan = max(0, median - baseline)
        say(String(format: "| %d | %.1f | %.1f | %.2f |", size, median, scan, scan * 1000 / Double(size)))
    }
} catch {
    fail("semantic: \(error)")
}
semantic.client.close()
}

await semanticTable()
