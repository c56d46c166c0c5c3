import Foundation
import Testing
import TestKit

/// The semantic cache on the real stack: paraphrase pairs and near-miss pairs written for it
/// (Tests/Fixtures/semantic/pairs.json). Each pair's similarity is measured through /v1/embeddings (the
/// path the cache itself uses); then every pair is asked through the cache and must be a semantic hit
/// exactly when its similarity reaches the threshold. The hit and false-hit rates are printed.
@Suite("the semantic cache on the real stack")
struct SemanticCacheTests {
    struct Pair: Decodable {
        let a: String
        let b: String
        let same: Bool
    }

    static func pairs() throws -> [Pair] {
        struct File: Decodable { let pairs: [Pair] }
        let data = try Data(contentsOf: URL(fileURLWithPath: packageRoot + "/Tests/Fixtures/semantic/pairs.json"))
        return try JSONDecoder().decode(File.self, from: data).pairs
    }

    static func object(_ r: CurlResult) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any] ?? [:]
    }

    @Test("a paraphrase at or above the threshold is answered from the cache; nothing below it is")
    func paraphrases() throws {
        let threshold = 0.95
        let run = try StackRun(models: [("smollm2", "chat"), ("minilm", "embedding")], environmentFile: [
            "RATE_LIMIT_RPM=1000000", "SEMANTIC_CACHE_MODELS=smollm2", "SEMANTIC_CACHE_THRESHOLD=\(threshold)",
        ], realDaemons: true, apiKeys: [.fixed("test"), .fixed("other")])
        defer { _ = run.stop() }
        #expect(run.wait(.seconds(120)) { run.isReady }, "the stack did not become ready: \(run.standardError.suffix(2000))")
        let url = "http://127.0.0.1:\(try #require(run.port("http")))"
        func post(_ path: String, _ body: [String: Any], key: String = "test") throws -> CurlResult {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            return curl(["-H", "Content-Type: application/json", "-H", "Authorization: Bearer \(key)", "-d", json, url + path], timeout: 120)
        }
        func embedding(_ text: String) throws -> [Double] {
            let data = Self.object(try post("/v1/embeddings", ["model": "minilm", "input": text]))["data"] as? [[String: Any]]
            return (data?.first?["embedding"] as? [NSNumber] ?? []).map(\.doubleValue)
        }
        // Each pair in a namespace of its own, so that only its own first message can answer its second.
        func chat(_ text: String, pair: Int, key: String = "test") throws -> CurlResult {
            try post("/v1/chat/completions", ["model": "smollm2", "messages": [["role": "user", "content": text]],
                                              "max_tokens": 8, "temperature": 0, "cache": ["namespace": "pair-\(pair)"]], key: key)
        }

        var table: [(pair: Pair, similarity: Double, status: String)] = []
        for (index, pair) in try Self.pairs().enumerated() {
            let x = try embedding(pair.a), y = try embedding(pair.b)
            #expect(x.count == 384 && y.count == 384)
            let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
            let norms = (x.reduce(0) { $0 + $1 * $1 } * y.reduce(0) { $0 + $1 * $1 }).squareRoot()
            let similarity = norms > 0 ? dot / norms : 0
            let stored = try chat(pair.a, pair: index)
            #expect(stored.status == 200 && stored.headers["x-cache"] == "MISS", "\(stored.headers) \(stored.body)")
            let asked = try chat(pair.b, pair: index)
            let status = asked.headers["x-cache"] ?? "?"
            table.append((pair, similarity, status))
            // Float32 in cached against Double here: a pair within 1e-4 of the threshold may go either way.
            if abs(similarity - threshold) > 1e-4 {
                #expect(status == (similarity >= threshold ? "HIT-SEMANTIC" : "MISS"),
                        "\(pair.b) at \(similarity): \(status)")
            }
            if status == "HIT-SEMANTIC" {
                // The stored answer, served for the paraphrase; and never to another key.
                #expect(Self.object(asked)["choices"] as? NSArray == Self.object(stored)["choices"] as? NSArray)
                #expect(try chat(pair.b, pair: index, key: "other").headers["x-cache"] != "HIT-SEMANTIC")
            }
        }
        let same = table.filter(\.pair.same), different = table.filter { !$0.pair.same }
        let hits = same.count { $0.status == "HIT-SEMANTIC" }, falseHits = different.count { $0.status == "HIT-SEMANTIC" }
        print("semantic cache at threshold \(threshold): \(hits)/\(same.count) paraphrases served, "
              + "\(falseHits)/\(different.count) near misses served (false hits)")
        for row in table.sorted(by: { $0.similarity > $1.similarity }) {
            print(String(format: "  %@ %.3f %@  %@", row.pair.same ? "same" : "diff", row.similarity, row.status, row.pair.b))
        }
        #expect(hits > 0, "the pairs include paraphrases above the threshold; none was served")
    }
}
