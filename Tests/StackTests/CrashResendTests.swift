import Foundation
import Glibc
import Synchronization
import Testing
import TestKit

/// No request is lost to a crash it could survive: a steady client while batchd, then modeld, is
/// SIGKILLed (and restarted by `inferctl up` behind the same socket, as systemd would). A request that had
/// produced no output is sent again and answered; a stream cut after its first text ends with an error
/// event and `[DONE]`.
@Suite("requests survive a SIGKILL of batchd or modeld")
struct CrashResendTests {
    /// Four clients sending short greedy chats (and embeddings) with new prompts until `stop`.
    final class SteadyClient: @unchecked Sendable {
        let answered = Atomic<Int>(0)
        let failed = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        private let group = DispatchGroup()

        init(port: Int, key: String) {
            for client in 0..<4 {
                group.enter()
                Thread.detachNewThread { [self] in
                    var i = 0
                    while !stop.load(ordering: .relaxed) && i < 500 {
                        let embed = client == 3
                        let body = embed ? #"{"model":"minilm","input":"crash \#(client) \#(i)"}"#
                            : #"{"model":"smollm2","messages":[{"role":"user","content":"Crash test \#(client)-\#(i)."}],"max_tokens":6,"temperature":0}"#
                        let r = curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json", "-d", body,
                                      "http://127.0.0.1:\(port)/v1/" + (embed ? "embeddings" : "chat/completions")], timeout: 60)
                        if r.status == 200 { answered.add(1, ordering: .relaxed) } else { failed.withLock { $0.append("\(r.status) \(r.body.prefix(200))") } }
                        i += 1
                    }
                    group.leave()
                }
            }
        }

        /// Stops the clients and waits for their last requests.
        func finish() {
            stop.store(true, ordering: .relaxed)
            group.wait()
        }
    }

    @Test("SIGKILL of batchd and of modeld under a steady client: every request is answered")
    func killsLoseNothing() throws {
        let serving = try ServingStack(), stack = serving.run
        defer { _ = stack.stop() }
        let key = try stack.key("unlimited")
        for unit in ["batchd", "modeld@smollm2", "batchd", "modeld@minilm"] {
            let client = SteadyClient(port: serving.http, key: key)
            while client.answered.load(ordering: .relaxed) < 8 { Thread.sleep(forTimeInterval: 0.05) }
            let before = stack.pid(unit)
            if let before { kill(before, SIGKILL) }
            #expect(stack.wait(.seconds(60)) { stack.pid(unit) != nil && stack.pid(unit) != before && stack.isReady },
                    "\(unit) was not restarted")
            let target = client.answered.load(ordering: .relaxed) + 8
            #expect(stack.wait(.seconds(60)) { client.answered.load(ordering: .relaxed) >= target })
            client.finish()
            let failures = client.failed.withLock { $0 }
            print("SIGKILL \(unit): \(client.answered.load(ordering: .relaxed)) answered, \(failures.count) failed")
            #expect(failures.isEmpty, "SIGKILL of \(unit) failed requests: \(failures)")
        }
        let resends = curl(["http://127.0.0.1:\(serving.metrics)/metrics"]).body.split(separator: "\n")
            .first { $0.hasPrefix("infer_frontd_resends_total ") }
        print("frontd re-sent: \(resends ?? "none")")
    }

    @Test("a stream cut by batchd's death after its first text ends with an error event and [DONE]")
    func cutStreamEndsCleanly() throws {
        let serving = try ServingStack(), stack = serving.run
        defer { _ = stack.stop() }
        let key = try stack.key("unlimited")
        let body = #"{"model":"smollm2","messages":[{"role":"user","content":"Write a long story about the sea."}],"max_tokens":400,"temperature":0,"stream":true}"#
        let result = Mutex<CurlResult?>(nil)
        let done = DispatchSemaphore(value: 0)
        let url = "http://127.0.0.1:\(serving.http)/v1/chat/completions"
        Thread.detachNewThread {
            let r = curl(["-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json", "-d", body, url], timeout: 120)
            result.withLock { $0 = r }
            done.signal()
        }
        // Kill batchd once the model is generating this stream's text.
        let busy = stack.wait(.seconds(30)) {
            curl(["http://127.0.0.1:\(serving.metrics)/metrics"]).body.contains(#"infer_frontd_time_to_first_token_seconds_count{model="smollm2"} 1"#)
        }
        #expect(busy, "the stream never produced text")
        if let pid = stack.pid("batchd") { kill(pid, SIGKILL) }
        #expect(done.wait(timeout: .now() + 60) == .success, "the client was left waiting")
        let r = try #require(result.withLock { $0 })
        let events = r.body.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }
        #expect(r.status == 200)
        #expect(events.count >= 3, "role chunk and text came first: \(events.prefix(3))")
        #expect(events.dropLast().last?.contains(#""error""#) == true, "an error event before the end: \(events.suffix(2))")
        #expect(events.last == "data: [DONE]", "the stream ends with [DONE]: \(events.suffix(2))")
    }
}
