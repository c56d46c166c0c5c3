import Services
import Testing
import Wire

/// batchd's route: the frame that names the deployment, and the embedding reply's trailing route.
@Suite("route frames and embedding replies with a route")
struct RouteMessageTests {
    @Test("a route frame round-trips and decodes as the stream's .route event tag")
    func routeFrame() throws {
        let route = GenerationProtocol.Route(deployment: "chat-2", model: "smollm2")
        let payload = GenerationFrameTag.payload(route)
        #expect(payload.first == GenerationFrameTag.route)
        #expect(try GenerationProtocol.Route(decoding: Array(payload.dropFirst())) == route)
    }

    @Test("an embedding reply without a route (modeld's, or an older batchd's) decodes as before; with one, it carries it")
    func embedReplyRoute() throws {
        let plain = GenerationProtocol.EmbedReply(vectors: [[1, 2]], promptTokens: 3)
        let decoded = try GenerationProtocol.EmbedReply(decoding: plain.encoded())
        #expect(decoded.route == nil && decoded.vectors == [[1, 2]] && decoded.promptTokens == 3)
        var routed = plain
        routed.route = GenerationProtocol.Route(deployment: "minilm", model: "minilm")
        #expect(try GenerationProtocol.EmbedReply(decoding: routed.encoded()) == routed)
        #expect(routed.encoded().count > plain.encoded().count)
    }
}
