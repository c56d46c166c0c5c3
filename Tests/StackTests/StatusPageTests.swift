import Foundation
import Glibc
import Synchronization
import Testing
import TestKit

/// metricsd's status page in a real browser (Debian's Chromium, headless): a screenshot under load is
/// kept as an artifact, and the page's lifetime figures equal what /metrics says once the load stops.
@Suite("the status page in headless Chromium")
struct StatusPageTests {
    /// Where the screenshot is kept (under .build, so `git status` stays clean).
    static let artifacts = packageRoot + "/.build/artifacts"

    static func chromium(_ arguments: [String]) throws -> (status: Int32, output: String) {
        // Root in a container: no sandbox; no GPU; a fresh profile each run. Its stderr (noise) is dropped.
        let program = try PipedProgram(
            "/usr/bin/chromium",
            ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--user-data-dir=" + NSTemporaryDirectory() + "infer-chromium-\(getpid())"] + arguments)
        let output = String(decoding: program.readOutput(), as: UTF8.self)
        return (program.exitCode(timeout: .seconds(120)) ?? -1, output)
    }

    /// The text of the element with `id` in a dumped DOM.
    static func text(_ dom: String, id: String) -> String? {
        guard let start = dom.range(of: "id=\"\(id)\">") else { return nil }
        return dom[start.upperBound...].prefix { $0 != "<" }.trimmingCharacters(in: .whitespaces)
    }

    @Test("a screenshot under load; afterwards the page's totals and daemons match /metrics and the stack")
    func statusPage() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"),
                     "Debian's chromium is missing: scripts/install-deps.sh (run by make test) installs it")
        let serving = try ServingStack(), stack = serving.run
        defer { _ = stack.stop() }
        let http = serving.http, metricsPort = serving.metrics
        let key = try stack.key("unlimited")
        let page = "http://127.0.0.1:\(metricsPort)/status"
        #expect(curl([page]).headers["content-type"] == "text/html; charset=utf-8")

        // Load: two clients asking short generations (half of them cache hits) until told to stop.
        let stop = Atomic<Bool>(false)
        let sent = Atomic<Int>(0)
        let clients = DispatchGroup()
        for client in 0..<2 {
            clients.enter()
            Thread.detachNewThread {
                var i = 0
                while !stop.load(ordering: .relaxed) && i < 200 {
                    let prompt = "Say \(client)-\(i / 2)."
                    _ = curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json", "-d",
                              #"{"model":"smollm2","messages":[{"role":"user","content":"\#(prompt)"}],"max_tokens":4,"temperature":0}"#,
                              "http://127.0.0.1:\(http)/v1/chat/completions"], timeout: 60)
                    sent.add(1, ordering: .relaxed)
                    i += 1
                }
                clients.leave()
            }
        }
        // The page has been open a few seconds (metricsd keeps what its polls saw, one entry a second).
        for _ in 0..<8 {
            #expect(curl(["http://127.0.0.1:\(metricsPort)/status.json"]).status == 200)
            Thread.sleep(forTimeInterval: 1.05)
        }
        try FileManager.default.createDirectory(atPath: Self.artifacts, withIntermediateDirectories: true)
        let shot = Self.artifacts + "/status-page.png"
        try? FileManager.default.removeItem(atPath: shot)
        let screenshot = try Self.chromium(["--window-size=1280,1500", "--virtual-time-budget=3000", "--screenshot=" + shot, page])
        stop.store(true, ordering: .relaxed)
        clients.wait()
        let png = (try? Data(contentsOf: URL(fileURLWithPath: shot))) ?? Data()
        #expect(screenshot.status == 0 && png.count > 10_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]),
                "no screenshot (\(png.count) bytes)")
        print("status page screenshot under load: \(shot) (\(png.count) bytes)")

        // Quiet now: the page's lifetime figures against /metrics read at the same moment.
        Thread.sleep(forTimeInterval: 1)
        let dom = try Self.chromium(["--virtual-time-budget=5000", "--dump-dom", page]).output
        let metrics = curl(["http://127.0.0.1:\(metricsPort)/metrics"]).body
        func sum(_ name: String, _ filter: (Substring) -> Bool = { _ in true }) -> Double {
            metrics.split(separator: "\n").filter { ($0.hasPrefix(name + "{") || $0.hasPrefix(name + " ")) && filter($0) }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }
        #expect(Int(Self.text(dom, id: "requests-total") ?? "") == Int(sum("infer_http_requests_total")), "requests")
        #expect(Int(Self.text(dom, id: "generated-tokens-total") ?? "") == Int(sum("infer_modeld_generated_tokens_total")))
        #expect(Int(Self.text(dom, id: "cache-hits-total") ?? "") == Int(sum("infer_frontd_cache_lookups_total") { $0.contains(#"result="hit""#) }))
        #expect(Int(Self.text(dom, id: "requests-total") ?? "") ?? 0 >= sent.load(ordering: .relaxed))
        #expect(abs((Double(Self.text(dom, id: "spend-total") ?? "") ?? -1) - sum("infer_frontd_cost_usd_total")) < 1e-6)
        // Every daemon is listed up, with the pid the stack runs it as.
        for (unit, pid) in stack.pids() {
            let daemon = unit.hasPrefix("modeld@") ? "modeld-" + unit.dropFirst(7) : unit
            #expect(dom.contains("<td>\(daemon)</td><td class=\"up\">● up</td><td>\(pid)</td>"), "\(daemon) (pid \(pid)) is not shown up")
        }
        #expect(curl(["http://127.0.0.1:\(metricsPort)/status.json"]).body.contains(#""history":[{"#))
        let polls = dom.range(of: #"data-polls=""#).map { dom[$0.upperBound...].prefix { $0 != "\"" } }.flatMap { Int($0) } ?? 0
        #expect(polls >= 2, "the page polled \(polls) times")
    }
}
