import IPC
import Wire
/// The generation and embedding messages. frontd sends them to batchd, and batchd forwards the same
/// payloads to the modeld instance that serves the model, so both speak this protocol (under their
/// own protocol names).
public enum GenerationProtocol {
    /// One chat turn.
    public struct Message: WireFields, Equatable {
        public var role: String
        public var content: String

        public init() { self.init(role: "", content: "") }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&role, .string(maxLength: 64))
            try v.field(&content, .string())
        }

        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    /// Sampling and stopping parameters, with the OpenAI API's meanings.
    public struct Parameters: WireFields, Equatable {
        public var maxTokens: UInt32
        public var temperature: Float
        public var topP: Float
        public var topK: UInt32
        public var seed: UInt64?
        public var frequencyPenalty: Float
        public var presencePenalty: Float
        public var stop: [String]

        public init() { self.init(maxTokens: 128) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&maxTokens, .uint32)
            try v.field(&temperature, .float32)
            try v.field(&topP, .float32)
            try v.field(&topK, .uint32)
            try v.field(&seed, .optional(.uint64))
            try v.field(&frequencyPenalty, .float32)
            try v.field(&presencePenalty, .float32)
            try v.field(&stop, .array(.string(maxLength: 1024), maxCount: 16))
        }

        public init(maxTokens: UInt32 = 128, temperature: Float = 1, topP: Float = 1, topK: UInt32 = 0, seed: UInt64? = nil,
                    frequencyPenalty: Float = 0, presencePenalty: Float = 0, stop: [String] = []) {
            self.maxTokens = maxTokens
            self.temperature = temperature
            self.topP = topP
            self.topK = topK
            self.seed = seed
            self.frequencyPenalty = frequencyPenalty
            self.presencePenalty = presencePenalty
            self.stop = stop
        }
    }

    /// Generates text. The answer is streamed: `Chunk`s, then END whose payload is a `Done`.
    public struct Generate: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 1
        public var requestID: String
        public var model: String
        /// Chat turns to render with the model's template; empty for a raw `prompt`.
        public var messages: [Message]
        /// Raw prompt text (completions), used when `messages` is empty.
        public var prompt: String
        public var parameters: Parameters
        /// Higher runs first in batchd's queue.
        public var priority: UInt8

        public init() { self.init(requestID: "", model: "", parameters: Parameters()) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&requestID, .string(maxLength: 256))
            try v.field(&model, .string(maxLength: 256))
            try v.field(&messages, .array(.nested(Message.self), maxCount: 4096))
            try v.field(&prompt, .string())
            try v.field(&parameters, .nested(Parameters.self))
            try v.field(&priority, .uint8)
        }

        public init(requestID: String, model: String, messages: [Message] = [], prompt: String = "",
                    parameters: Parameters, priority: UInt8 = 0) {
            self.requestID = requestID
            self.model = model
            self.messages = messages
            self.prompt = prompt
            self.parameters = parameters
            self.priority = priority
        }
    }

    /// New text of a streamed generation.
    public struct Chunk: WireFields, Equatable {
        public var text: String
        /// Tokens generated so far.
        public var completionTokens: UInt32

        public init() { self.init(text: "", completionTokens: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&text, .string())
            try v.field(&completionTokens, .uint32)
        }

        public init(text: String, completionTokens: UInt32) {
            self.text = text
            self.completionTokens = completionTokens
        }
    }

    /// The END of a generation: why it stopped and the exact token counts.
    public struct Done: WireFields, Equatable {
        /// "stop" or "length".
        public var finishReason: String
        public var promptTokens: UInt32
        public var completionTokens: UInt32
        /// Sequences in the model step that produced the first token (the batch it ran in).
        public var batchSize: UInt32

        public init() { self.init(finishReason: "", promptTokens: 0, completionTokens: 0, batchSize: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&finishReason, .string(maxLength: 32))
            try v.field(&promptTokens, .uint32)
            try v.field(&completionTokens, .uint32)
            try v.field(&batchSize, .uint32)
        }

        public init(finishReason: String, promptTokens: UInt32, completionTokens: UInt32, batchSize: UInt32) {
            self.finishReason = finishReason
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.batchSize = batchSize
        }
    }

    /// Embeds texts. Reply: `EmbedReply`.
    public struct Embed: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 2
        public var requestID: String
        public var model: String
        public var inputs: [String]

        public init() { self.init(requestID: "", model: "", inputs: []) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&requestID, .string(maxLength: 256))
            try v.field(&model, .string(maxLength: 256))
            try v.field(&inputs, .array(.string(), maxCount: 2048))
        }

        public init(requestID: String, model: String, inputs: [String]) {
            self.requestID = requestID
            self.model = model
            self.inputs = inputs
        }
    }

    public struct EmbedReply: WireFields, Equatable {
        public var vectors: [[Float]]
        public var promptTokens: UInt32
        /// The deployment that answered (batchd adds it; modeld leaves it out). Trailing and optional, so
        /// a reply without it decodes as before.
        public var route: Route?

        public init() { self.init(vectors: [], promptTokens: 0) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&vectors, .array(.array(.float32, maxCount: 65_536, minElementSize: 4), maxCount: 2048))
            try v.field(&promptTokens, .uint32)
            try v.field(&route, .trailing(.nested(Route.self)))
        }

        public init(vectors: [[Float]], promptTokens: UInt32) {
            self.vectors = vectors
            self.promptTokens = promptTokens
        }
    }

    /// Which deployment answers a request and for which model (the one asked for, or a fallback):
    /// batchd sends it as a generation's first frame (``GenerationFrameTag/route``) once a deployment has
    /// begun to answer, and at the end of an ``EmbedReply``.
    public struct Route: WireFields, Equatable {
        /// The deployment (modeld instance) that answers.
        public var deployment: String
        /// The model it answers as: the request's, or the fallback that took over.
        public var model: String

        public init() { self.init(deployment: "", model: "") }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&deployment, .string())
            try v.field(&model, .string())
        }

        public init(deployment: String, model: String) {
            self.deployment = deployment
            self.model = model
        }
    }

    /// Asks a modeld instance whether it can serve now, at no token cost (batchd's health probe):
    /// the built-in engine answers from its loop's heartbeat, an upstream deployment from a
    /// `GET {url}/models`. Reply: ``HealthReply``. A modeld older than this message answers ERROR
    /// `unknownType` (7), which batchd takes as no verdict.
    public struct Health: WireMessage, WireFields, Equatable {
        public static let type: UInt16 = 3

        public init() {}
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {}
    }

    /// Whether the instance can serve, and if not, why and for how long it asked to be left alone.
    public struct HealthReply: WireFields, Equatable {
        /// The instance can take requests now.
        public var ready: Bool
        /// Seconds the upstream asked to be left alone (its 429's Retry-After); 0 when it did not say.
        public var retryAfterSeconds: UInt32
        /// Why it is not ready, in words a log may show (no addresses, no keys); empty when ready.
        public var reason: String

        public init() { self.init(ready: false) }
        public mutating func visitFields<V: WireFieldVisitor>(_ v: inout V) throws(V.Failure) {
            try v.field(&ready, .bool)
            try v.field(&retryAfterSeconds, .uint32)
            try v.field(&reason, .string(maxLength: 4096))
        }

        public init(ready: Bool, retryAfterSeconds: UInt32 = 0, reason: String = "") {
            self.ready = ready
            self.retryAfterSeconds = retryAfterSeconds
            self.reason = reason
        }
    }

    /// What a streamed generation yields, decoded.
    public enum Event: Sendable, Equatable {
        /// Who answers (first, when batchd routed the request).
        case route(Route)
        case chunk(Chunk)
        case done(Done)
    }
}

/// The client stub for a generation service (batchd, or a modeld instance): streams typed events.
public struct GenerationClient: Sendable {
    public let client: IPCClient
    /// - Parameter protocolName: `ServiceName.batchd` or `ServiceName.modeld`.
    public init(path: String, protocolName: String) {
        client = IPCClient(path: path, protocolName: protocolName, version: ServiceName.version)
    }

    /// Starts a generation; the stream yields chunks and finally one `.done`.
    /// Ending the iteration early cancels the generation all the way to modeld.
    public func generate(_ request: GenerationProtocol.Generate, timeout: Duration) -> AsyncThrowingStream<GenerationProtocol.Event, any Error> {
        let raw = client.stream(type: GenerationProtocol.Generate.type, payload: request.encoded(), timeout: timeout)
        return Self.decode(raw)
    }

    /// Decodes a raw stream: every element but the last is a `Chunk`, the last a `Done`.
    /// The END payload (a `Done`) arrives as the stream's last element.
    ///
    /// Each frame is decoded inside the consumer's own `next()`, on the consumer's executor: no task of
    /// its own, so a frame read on the consumer's loop thread is decoded and handled there, with no
    /// wake-up of another thread in between. Dropping the stream (or cancelling its consumer) drops the
    /// raw stream, which cancels the call.
    public static func decode(_ raw: AsyncThrowingStream<[UInt8], any Error>) -> AsyncThrowingStream<GenerationProtocol.Event, any Error> {
        let frames = RawFrames(raw.makeAsyncIterator())
        return AsyncThrowingStream(unfolding: { try await frames.next() })
    }

    /// The raw stream's iterator, read by one consumer at a time (the stream that wraps it).
    private final class RawFrames: @unchecked Sendable {
        private var iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator

        init(_ iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator) { self.iterator = iterator }

        func next() async throws -> GenerationProtocol.Event? {
            guard let payload = try await iterator.next() else { return nil }
            // Chunks and Done are told apart by a leading tag byte.
            guard let tag = payload.first else { throw IPCError.protocolViolation("empty generation frame") }
            let body = Array(payload.dropFirst())
            do {
                switch tag {
                case GenerationFrameTag.chunk: return .chunk(try GenerationProtocol.Chunk(decoding: body))
                case GenerationFrameTag.done: return .done(try GenerationProtocol.Done(decoding: body))
                case GenerationFrameTag.route: return .route(try GenerationProtocol.Route(decoding: body))
                default: throw IPCError.protocolViolation("unknown generation frame tag \(tag)")
                }
            } catch let e as WireError {
                throw IPCError.protocolViolation("undecodable generation frame: \(e)")
            }
        }
    }

    /// Asks whether the instance can serve now (modeld only; costs no tokens).
    /// - Throws: ``IPCError``; `remote(code: 7, …)` from a modeld older than the message.
    public func health(timeout: Duration) async throws -> GenerationProtocol.HealthReply {
        try await client.call(GenerationProtocol.Health(), returning: GenerationProtocol.HealthReply.self, timeout: timeout)
    }

    /// Embeds texts.
    public func embed(_ request: GenerationProtocol.Embed, timeout: Duration) async throws -> GenerationProtocol.EmbedReply {
        try await client.call(request, returning: GenerationProtocol.EmbedReply.self, timeout: timeout)
    }
}

/// First byte of each CHUNK/END payload of a generation stream.
public enum GenerationFrameTag {
    public static let chunk: UInt8 = 1
    public static let done: UInt8 = 2
    /// A CHUNK payload holding a ``GenerationProtocol/Route``, before the first text.
    public static let route: UInt8 = 3

    /// A CHUNK payload for `chunk`.
    public static func payload(_ chunk: GenerationProtocol.Chunk) -> [UInt8] { [Self.chunk] + chunk.encoded() }
    /// An END payload for `done`.
    public static func payload(_ done: GenerationProtocol.Done) -> [UInt8] { [Self.done] + done.encoded() }
    /// A CHUNK payload for `route`.
    public static func payload(_ route: GenerationProtocol.Route) -> [UInt8] { [Self.route] + route.encoded() }
}
