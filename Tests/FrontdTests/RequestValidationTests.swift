import Foundation
import IPC
import Testing

@testable import frontd
import Services

/// The bodies of the generating routes: what is accepted, and the `param` every refusal names.
@Suite struct RequestValidationTests {
    static func body(_ json: String) throws -> JSONObject {
        try JSONBody.object(Array(json.utf8))
    }

    /// The 422's `param`, or nil when the body is accepted.
    static func refusal(_ parse: () throws -> Void) -> String? {
        do {
            try parse()
            return nil
        } catch let error as APIError {
            #expect(error.status.code == 422)
            return error.param
        } catch {
            Issue.record("not an APIError: \(error)")
            return nil
        }
    }

    @Test("a native body: defaults, every parameter, unknown fields ignored")
    func inferAccepts() throws {
        let r = try InferRequest(body: Self.body(#"{"prompt":"hi","unknown":1}"#), rules: .test("smollm2"))
        #expect(r.model == "smollm2" && r.prompt == "hi" && r.requestID == nil)
        #expect(r.parameters.maxTokens == 128 && r.parameters.temperature == 0.7)
        let full = try InferRequest(body: Self.body(#"""
            {"model":"tiny","prompt":"p","request_id":"abc","params":{"max_new_tokens":4096,"temperature":0,"top_p":0.5,
             "top_k":40,"seed":-7,"stop":["a","b"],"frequency_penalty":-2,"presence_penalty":2}}
            """#), rules: .test("smollm2"))
        #expect(full.model == "tiny" && full.requestID == "abc")
        #expect(full.parameters == GenerationProtocol.Parameters(maxTokens: 4096, temperature: 0, topP: 0.5, topK: 40,
                                                                  seed: UInt64(bitPattern: -7), frequencyPenalty: -2,
                                                                  presencePenalty: 2, stop: ["a", "b"]))
        let generate = full.generate(requestID: "r")
        #expect(generate.messages == [GenerationProtocol.Message(role: "user", content: "p")] && generate.prompt.isEmpty)
    }

    @Test("a native body's refusals name the field", arguments: [
        (#"{"params":{}}"#, "prompt"),
        (#"{"prompt":""}"#, "prompt"),
        (#"{"prompt":7}"#, "prompt"),
        (#"{"prompt":"x","model":"Big Model"}"#, "model"),
        (#"{"prompt":"x","params":"hot"}"#, "params"),
        (#"{"prompt":"x","params":{"temperature":2.5}}"#, "params.temperature"),
        (#"{"prompt":"x","params":{"temperature":"warm"}}"#, "params.temperature"),
        (#"{"prompt":"x","params":{"temperature":true}}"#, "params.temperature"),
        (#"{"prompt":"x","params":{"max_new_tokens":0}}"#, "params.max_new_tokens"),
        (#"{"prompt":"x","params":{"max_new_tokens":4097}}"#, "params.max_new_tokens"),
        (#"{"prompt":"x","params":{"max_new_tokens":1.5}}"#, "params.max_new_tokens"),
        (#"{"prompt":"x","params":{"top_p":0}}"#, "params.top_p"),
        (#"{"prompt":"x","params":{"top_k":-1}}"#, "params.top_k"),
        (#"{"prompt":"x","params":{"seed":1e300}}"#, "params.seed"),
        (#"{"prompt":"x","params":{"stop":["a","b","c","d","e"]}}"#, "params.stop"),
        (#"{"prompt":"x","params":{"stop":[""]}}"#, "params.stop"),
        (#"{"prompt":"x","params":{"presence_penalty":3}}"#, "params.presence_penalty"),
        (#"{"prompt":"x","request_id":5}"#, "request_id"),
        (#"{"prompt":"x","request_id":""}"#, "request_id"),
    ])
    func inferRefuses(_ json: String, _ param: String) throws {
        let o = try Self.body(json)
        #expect(Self.refusal { _ = try InferRequest(body: o, rules: .test("smollm2")) } == param)
    }

    @Test("a batch: the envelope fails the call, an item only itself, items inherit model and params")
    func batch() throws {
        let many = #"{"requests":["# + Array(repeating: #"{"prompt":"a"}"#, count: 65).joined(separator: ",") + "]}"
        for (json, param) in [(#"{"requests":[]}"#, "requests"), (#"{"requests":{}}"#, "requests"), (many, "requests"),
                              (#"{"requests":[{"prompt":"a"}],"params":{"top_k":-3}}"#, "params.top_k"),
                              (#"{"requests":[{"prompt":"a"}],"model":3}"#, "model")] {
            let o = try Self.body(json)
            #expect(Self.refusal { _ = try BatchRequest(body: o, rules: .test("m")) } == param)
        }

        let b = try BatchRequest(body: Self.body(#"""
            {"model":"tiny","params":{"max_new_tokens":5,"temperature":0},
             "requests":[{"prompt":"a"},{"prompt":"b","model":"smollm2","params":{"temperature":1}},3,{"prompt":"c","params":{"top_p":2}},{}]}
            """#), rules: .test("smollm2"))
        #expect(b.items.count == 5)
        let first = try b.items[0].get(), second = try b.items[1].get()
        #expect(first.model == "tiny" && first.parameters.maxTokens == 5 && first.parameters.temperature == 0)
        #expect(second.model == "smollm2" && second.parameters.maxTokens == 5 && second.parameters.temperature == 1)
        func param(_ i: Int) -> String? {
            if case .failure(let e) = b.items[i] { return e.param }
            return nil
        }
        #expect(param(2) == "requests[2]")
        #expect(param(3) == "requests[3].params.top_p")
        #expect(param(4) == "requests[4].prompt")
    }

    @Test("completions: raw prompt, one prompt only, unsupported options refused")
    func completions() throws {
        let r = try CompletionRequest(body: Self.body(#"{"prompt":["Once upon a time"],"max_tokens":20,"temperature":0,"echo":false,"logprobs":null,"n":1}"#),
                                      rules: .test("smollm2"))
        let g = r.generate(requestID: "x")
        #expect(g.messages.isEmpty && g.prompt == "Once upon a time" && g.parameters.maxTokens == 20)
        #expect(try CompletionRequest(body: Self.body(#"{"prompt":"a"}"#), rules: .test("m")).parameters.maxTokens == 16)
        for (json, param) in [(#"{"prompt":["a","b"]}"#, "prompt"), (#"{"prompt":[]}"#, "prompt"), (#"{"prompt":[1]}"#, "prompt"),
                              (#"{"prompt":"a","echo":true}"#, "echo"), (#"{"prompt":"a","logprobs":1}"#, "logprobs"),
                              (#"{"prompt":"a","n":3}"#, "n"), (#"{"prompt":"a","best_of":2}"#, "best_of"),
                              (#"{"prompt":"a","suffix":"z"}"#, "suffix"), (#"{"prompt":"a","stream":"yes"}"#, "stream"),
                              (#"{"prompt":"a","max_tokens":0}"#, "max_tokens")] {
            let o = try Self.body(json)
            #expect(Self.refusal { _ = try CompletionRequest(body: o, rules: .test("m")) } == param, "\(json)")
        }
    }

    @Test("chat: response_format text only; max_completion_tokens wins over max_tokens; n=1")
    func chat() throws {
        let base = #""messages":[{"role":"user","content":"hi"}]"#
        let ok = try ChatRequest(body: Self.body("{\(base),\"response_format\":{\"type\":\"text\"},\"max_tokens\":9,\"max_completion_tokens\":3,\"n\":1}"), rules: .test("m"))
        #expect(ok.parameters.maxTokens == 3)
        for (extra, param) in [(#""response_format":{"type":"json_object"}"#, "response_format"),
                               (#""response_format":"text""#, "response_format"),
                               (#""response_format":{}"#, "response_format"),
                               (#""n":2"#, "n"), (#""temperature":-1"#, "temperature"), (#""stop":7"#, "stop")] {
            let o = try Self.body("{\(base),\(extra)}")
            #expect(Self.refusal { _ = try ChatRequest(body: o, rules: .test("m")) } == param, "\(extra)")
        }
    }

    @Test("the cache key depends on what decides the output, and /v1/infer shares it with the same chat")
    func cacheKey() throws {
        let infer = try InferRequest(body: Self.body(#"{"prompt":"hi","params":{"temperature":0,"max_new_tokens":5}}"#), rules: .test("m"))
        let chat = try ChatRequest(body: Self.body(#"{"messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":5,"top_p":1}"#), rules: .test("m"))
        #expect(infer.generate(requestID: "a").cacheKey == chat.generate(requestID: "b").cacheKey)
        let raw = try CompletionRequest(body: Self.body(#"{"prompt":"hi","temperature":0,"max_tokens":5}"#), rules: .test("m"))
        #expect(raw.generate(requestID: "a").cacheKey != infer.generate(requestID: "a").cacheKey)
        #expect(infer.generate(requestID: "a").isDeterministic && raw.generate(requestID: "a").isDeterministic)
        let sampled = try InferRequest(body: Self.body(#"{"prompt":"hi"}"#), rules: .test("m"))
        #expect(!sampled.generate(requestID: "a").isDeterministic)
    }

    @Test("MAX_TOKENS_LIMIT bounds what every route may ask for, and caps the routes' defaults")
    func tokenLimit() throws {
        let tight = RequestRules.test("m", limit: 8)
        #expect(try ChatRequest(body: Self.body(#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":8}"#), rules: tight)
            .parameters.maxTokens == 8)
        #expect(Self.refusal { _ = try ChatRequest(body: Self.body(#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":9}"#), rules: tight) } == "max_tokens")
        #expect(Self.refusal { _ = try CompletionRequest(body: Self.body(#"{"prompt":"a","max_tokens":9}"#), rules: tight) } == "max_tokens")
        #expect(Self.refusal { _ = try InferRequest(body: Self.body(#"{"prompt":"a","params":{"max_new_tokens":9}}"#), rules: tight) }
            == "params.max_new_tokens")
        // Defaults above the limit are capped: chat's 256 and /v1/infer's 128 become 8.
        #expect(try ChatRequest(body: Self.body(#"{"messages":[{"role":"user","content":"hi"}]}"#), rules: tight).parameters.maxTokens == 8)
        #expect(try InferRequest(body: Self.body(#"{"prompt":"a"}"#), rules: tight).parameters.maxTokens == 8)
    }
}

extension RequestRules {
    /// Rules for tests: a default model and MAX_TOKENS_LIMIT (4096, the setting's default, unless given).
    static func test(_ model: String, limit: Int = 4096) -> RequestRules {
        RequestRules(defaultModel: model, maxTokensLimit: limit)
    }
}
