import Foundation
import Testing

@testable import Upstream

@Suite("UpstreamRequestBody: model and stream fields rewritten, the rest untouched")
struct UpstreamRequestBodyTests {
    private func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("streaming sets stream and include_usage, keeping other stream options")
    func streaming() throws {
        let body = try UpstreamRequestBody(json: Data(#"{"model":"public","messages":[{"role":"user","content":"hi"}],"temperature":0.7,"stream_options":{"other":1},"logprobs":false}"#.utf8))
        let sent = try object(body.prepared(model: "upstream-model", streaming: true, includeUsage: true))
        #expect(sent["model"] as? String == "upstream-model")
        #expect(sent["stream"] as? Bool == true)
        let options = try #require(sent["stream_options"] as? [String: Any])
        #expect(options["include_usage"] as? Bool == true)
        #expect(options["other"] as? Int == 1)
        #expect(sent["temperature"] as? Double == 0.7)
        #expect(sent["logprobs"] as? Bool == false)
        #expect((sent["messages"] as? [[String: Any]])?.first?["content"] as? String == "hi")
    }

    @Test("non-streaming removes stream and stream_options")
    func nonStreaming() throws {
        let body = try UpstreamRequestBody(["model": "x", "prompt": "p", "stream": true, "stream_options": ["include_usage": true]])
        let sent = try object(body.prepared(model: "m", streaming: false, includeUsage: true))
        #expect(sent["stream"] == nil)
        #expect(sent["stream_options"] == nil)
        #expect(sent["model"] as? String == "m")
    }

    @Test("a body built from members is rewritten the same way, and its strings escaped")
    func members() throws {
        let body = try UpstreamRequestBody(members: [
            ("model", .string("public")), ("stream", .bool(false)), ("stream_options", .object([("other", .integer(1))])),
            ("messages", .array([.object([("role", .string("user")), ("content", .string("say \"hi\"\n\u{1}é"))])])),
            ("temperature", .number(0.7)), ("stop", .array([.string("\n")])), ("logprobs", .null),
        ])
        let streamed = try object(body.prepared(model: "upstream-model", streaming: true, includeUsage: true))
        #expect(streamed["model"] as? String == "upstream-model")
        #expect(streamed["stream"] as? Bool == true)
        let options = try #require(streamed["stream_options"] as? [String: Any])
        #expect(options["include_usage"] as? Bool == true && options["other"] as? Int == 1)
        #expect((streamed["messages"] as? [[String: Any]])?.first?["content"] as? String == "say \"hi\"\n\u{1}é")
        #expect(streamed["temperature"] as? Double == 0.7)
        #expect(streamed["stop"] as? [String] == ["\n"])
        #expect(streamed["logprobs"] is NSNull)
        let plain = try object(body.prepared(model: "m", streaming: false, includeUsage: true))
        #expect(plain["stream"] == nil && plain["stream_options"] == nil && plain["model"] as? String == "m")
        let embedding = try object(body.prepared(model: "m", streaming: nil, includeUsage: false))
        #expect(embedding["stream"] as? Bool == false)
        #expect(throws: UpstreamError.self) { _ = try UpstreamRequestBody(members: [("temperature", .number(.nan))]) }
    }

    @Test("a body that is not a JSON object is refused as an invalid request",
          arguments: ["[1,2]", "not json", "\"text\"", ""])
    func refusesNonObjects(text: String) {
        #expect {
            _ = try UpstreamRequestBody(json: Data(text.utf8))
        } throws: { error in
            (error as? UpstreamError)?.kind == .invalidRequest && (error as? UpstreamError)?.clientStatus == 400
        }
    }
}
