import Foundation
import Glibc
import Synchronization
import Testing
import TestKit

/// The chaos test: steady mixed load (chat, streamed chat, embeddings, and clients that vanish mid-stream)
/// while every daemon in turn is SIGTERMed, SIGKILLed and SIGSTOPped past its watchdog, under
/// `inferctl up` (which restarts them as systemd would). Counts per phase are printed. Graceful phases
/// lose nothing; kill and stop phases lose only what a crash may: frontd's own open connections, and
/// streams that had already sent text when batchd or modeld died (they end with an error event and
/// `[DONE]`). Afterwards every daemon answers, and a further stretch of load leaks neither descriptors
/// nor memory.
@Suite("chaos: every daemon terminated, killed and stopped under load")
struct ChaosTests {
    /// What one client request ended as.
    enum Outcome: String, CaseIterable {
        /// 200 and a complete answer.
        case answered
        /// A stream that began and ended with an error event and [DONE] (its text was cut by a crash).
        case cut
        /// Anything else: a refused or dropped request.
        case lost
    }

    /// The mixed load, counting outcomes into whichever phase is current.
    final class Load: @unchecked Sendable {
        private let counts = Mutex<[String: [Outcome: Int]]>([:])
        private let failures = Mutex<[String: [String]]>([:])
        private let phase = Mutex("warm-up")
        private let stop = Atomic<Bool>(false)
        private let group = DispatchGroup()
        let sent = Atomic<Int>(0)

        init(port: Int, key: String) {
            let base = "http://127.0.0.1:\(port)/v1/"
            let headers = ["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json"]
            for kind in ["chat", "stream", "embed", "vanish"] {
                group.enter()
                Thread.detachNewThread { [self] in
                    var i = 0
                    while !stop.load(ordering: .relaxed) && i < 2000 {
                        let current = phase.withLock { $0 }
                        i += 1
                        switch kind {
                        case "chat":
                            let r = curl(headers + ["-d", #"{"model":"smollm2","messages":[{"role":"user","content":"Chaos \#(i)."}],"max_tokens":5,"temperature":0}"#,
                                                     base + "chat/completions"], timeout: 60)
                            record(current, r.status == 200 && r.body.contains(#""finish_reason""#) ? .answered : .lost, r)
                        case "stream":
                            let r = curl(headers + ["-d", #"{"model":"smollm2","messages":[{"role":"user","content":"Tell chaos story \#(i)."}],"max_tokens":24,"temperature":0,"stream":true}"#,
                                                     base + "chat/completions"], timeout: 60)
                            let done = r.body.hasSuffix("data: [DONE]\n\n")
                            let outcome: Outcome = r.status == 200 && done
                                ? (r.body.contains(#""error""#) ? .cut : .answered) : .lost
                            record(current, outcome, r)
                        case "embed":
                            let r = curl(headers + ["-d", #"{"model":"minilm","input":["chaos \#(i)","again"]}"#, base + "embeddings"], timeout: 60)
                            record(current, r.status == 200 && r.body.contains(#""embedding""#) ? .answered : .lost, r)
                        default:
                            // A client that goes away mid-stream: the stack must cancel and carry on.
                            _ = curl(headers + ["-d", #"{"model":"smollm2","messages":[{"role":"user","content":"Vanish \#(i)."}],"max_tokens":64,"temperature":0.7,"stream":true}"#,
                                                 base + "chat/completions"], timeout: 1)
                        }
                        sent.add(1, ordering: .relaxed)
                    }
                    group.leave()
                }
            }
        }

        private func record(_ phase: String, _ outcome: Outcome, _ r: CurlResult) {
            counts.withLock { $0[phase, default: [:]][outcome, default: 0] += 1 }
            if outcome == .lost { failures.withLock { $0[phase, default: []].append("\(r.status) \(r.body.suffix(160))") } }
        }

        /// Starts counting into `name`.
        func enter(_ name: String) { phase.withLock { $0 = name } }

        func counts(_ name: String) -> [Outcome: Int] { counts.withLock { $0[name] ?? [:] } }
        func failures(_ name: String) -> [String] { failures.withLock { $0[name] ?? [] } }

        func finish() {
            stop.store(true, ordering: .relaxed)
            group.wait()
        }
    }

    /// Open descriptors and resident memory (KiB) of a process.
    static func footprint(_ pid: Int32) -> (fds: Int, rssKiB: Int) {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? -1
        return (fds, rss)
    }

    @Test("SIGTERM, SIGKILL and SIGSTOP of every daemon under mixed load; then no leak")
    func chaos() throws {
        let stack = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], arguments: ["--watchdog-sec", "2"],
                                 environmentFile: ["RATE_LIMIT_RPM=1000000"], realDaemons: true)
        defer { _ = stack.stop() }
        #expect(stack.wait(.seconds(120)) { stack.isReady }, "not ready: \(stack.standardError.suffix(2000))")
        let port = try #require(stack.port("http")), metricsPort = try #require(stack.port("metrics-http"))
        let load = Load(port: port, key: try stack.key("unlimited"))
        defer { load.finish() }
        func progress(_ requests: Int) {
            let target = load.sent.load(ordering: .relaxed) + requests
            _ = stack.wait(.seconds(60)) { load.sent.load(ordering: .relaxed) >= target }
        }
        progress(12)

        let units = ["frontd", "limitd", "cached", "batchd", "modeld@smollm2", "modeld@minilm", "metricsd"]
        var report: [String] = []
        for unit in units {
            for (signal, name) in [(SIGTERM, "SIGTERM"), (SIGKILL, "SIGKILL"), (SIGSTOP, "SIGSTOP")] {
                let phase = "\(name) \(unit)"
                load.enter(phase)
                progress(2)
                let before = stack.pid(unit)
                if let before { kill(before, signal) }
                // Back: a new process (SIGSTOP: killed by the watchdog and restarted) and the stack ready. A
                // daemon that exited cleanly starts again on its next connection: the load makes those, but
                // nothing in it talks to metricsd, so a scrape does.
                let back = stack.wait(.seconds(60)) {
                    if unit == "metricsd" { _ = curl(["http://127.0.0.1:\(metricsPort)/metrics"], timeout: 5) }
                    return stack.pid(unit) != nil && stack.pid(unit) != before && stack.isReady
                }
                #expect(back, "\(unit) did not come back after \(name)")
                progress(4)
                let c = load.counts(phase)
                let lost = c[.lost] ?? 0, cut = c[.cut] ?? 0
                report.append("\(phase): \(c[.answered] ?? 0) answered, \(cut) streams cut after text, \(lost) lost")
                switch (signal, unit) {
                case (SIGTERM, _):
                    #expect(lost == 0 && cut == 0, "\(phase) is graceful and lost \(lost), cut \(cut): \(load.failures(phase))")
                case (_, "frontd"):
                    // frontd's own death loses its open connections: at most one per client thread.
                    #expect(lost <= 3, "\(phase) lost \(lost), more than frontd's open connections: \(load.failures(phase))")
                default:
                    #expect(lost == 0, "\(phase) lost \(lost): \(load.failures(phase))")
                    if !["batchd", "modeld@smollm2"].contains(unit) { #expect(cut == 0, "\(phase) cut \(cut) streams") }
                }
            }
        }
        print("chaos phases:\n  " + report.joined(separator: "\n  "))

        // Every daemon answers; then the same load for a while must not grow descriptors or memory.
        load.enter("leak check")
        progress(20)
        let first = Dictionary(uniqueKeysWithValues: stack.pids().map { ($0.key, Self.footprint($0.value)) })
        progress(100)
        let second = Dictionary(uniqueKeysWithValues: stack.pids().map { ($0.key, Self.footprint($0.value)) })
        for (unit, a) in first.sorted(by: { $0.key < $1.key }) {
            guard let b = second[unit] else { Issue.record("\(unit) is gone"); continue }
            print("  \(unit): fds \(a.fds) → \(b.fds), RSS \(a.rssKiB) → \(b.rssKiB) KiB")
            #expect(b.fds <= a.fds + 8, "\(unit) descriptors grew from \(a.fds) to \(b.fds)")
            #expect(b.rssKiB <= a.rssKiB + 16_384, "\(unit) memory grew from \(a.rssKiB) to \(b.rssKiB) KiB")
        }
        #expect((load.counts("leak check")[.lost] ?? 0) == 0, "\(load.failures("leak check"))")
    }
}
