import IPC
import Wire
/// The generation and embedding messages. frontd sends them to batchd, and batchd forwards the same
/// payloads to the modeld instance that serves the model, so both speak this protocol (under their
/// own protocol names).
public enum GenerationProtocol {
    /// One chat turn.
    public struct Message: WireCodable, Equatable {
        public var role: String
        public var content: String
        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
        public init(from r: inout WireReader) throws {
            role = try r.readString(maxLength: 64)
            content = try r.readString()
        }
        public func encode(to w: inout WireWriter) {
            w.writeString(role)
            w.writeString(content)
        }
    }

    /// Sampling and stopping parameters, with the OpenAI API's meanings.
    public struct Parameters: WireCodable, Equatable {
        public var maxTokens: UInt32
        public var temperature: Float
        public var topP: Float
        public var topK: UInt32
        public var seed: UInt64?
        public var frequencyPenalty: Float
        public var presencePenalty: Float
        public var stop: [String]

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
        public init(from r: inout WireReader) throws {
            maxTokens = try r.readUInt32()
            temperature = try r.readFloat32()
            topP = try r.readFloat32()
            topK = try r.readUInt32()
            seed = try r.readOptional { try $0.readUInt64() }
            frequencyPenalty = try r.readFloat32()
            presencePenalty = try r.readFloat32()
            stop = try r.readArray(maxCount: 16) { try $0.readString(maxLength: 1024) }
        }
        public func encode(to w: inout WireWriter) {
            w.writeUInt32(maxTokens)
            w.writeFloat32(temperature)
            w.writeFloat32(topP)
            w.writeUInt32(topK)
            w.writeOptional(seed) { $0.writeUInt64($1) }
            w.writeFloat32(frequencyPenalty)
            w.writeFloat32(presencePenalty)
            w.writeArray(stop) { $0.writeString($1) }
        }
    }

    /// Generates text. The answer is streamed: `Chunk`s, then END whose payload is a `Done`.
    public struct Generate: WireMessage, Equatable {
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

        public init(requestID: String, model: String, messages: [Message] = [], prompt: String = "",
                    parameters: Parameters, priority: UInt8 = 0) {
            self.requestID = requestID
            self.model = model
            self.messages = messages
            self.prompt = prompt
            self.parameters = parameters
            self.priority = priority
        }
        public init(from r: inout WireReader) throws {
            requestID = try r.readString(maxLength: 256)
            model = try r.readString(maxLength: 256)
            messages = try r.readArray(maxCount: 4096) { try $0.read(Message.self) }
            prompt = try r.readString()
            parameters = try r.read(Parameters.self)
            priority = try r.readUInt8()
        }
        public func encode(to w: inout WireWriter) {
            w.writeString(requestID)
            w.writeString(model)
            w.writeArray(messages) { $0.write($1) }
            w.writeString(prompt)
            w.write(parameters)
            w.writeUInt8(priority)
        }
    }

    /// New text of a streamed generation.
    public struct Chunk: WireCodable, Equatable {
        public var text: String
        /// Tokens generated so far.
        public var completionTokens: UInt32
        public init(text: String, completionTokens: UInt32) {
            self.text = text
            self.completionTokens = completionTokens
        }
        public init(from r: inout WireReader) throws {
            text = try r.readString()
            completionTokens = try r.readUInt32()
        }
        public func encode(to w: inout WireWriter) {
            w.writeString(text)
            w.writeUInt32(completionTokens)
        }
    }

    /// The END of a generation: why it stopped and the exact token counts.
    public struct Done: WireCodable, Equatable {
        /// "stop" or "length".
        public var finishReason: String
        public var promptTokens: UInt32
        public var completionTokens: UInt32
        /// Sequences in the model step that produced the first token (the batch it ran in).
        public var batchSize: UInt32
        public init(finishReason: String, promptTokens: UInt32, completionTokens: UInt32, batchSize: UInt32) {
            self.finishReason = finishReason
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.batchSize = batchSize
        }
        public init(from r: inout WireReader) throws {
            finishReason = try r.readString(maxLength: 32)
            promptTokens = try r.readUInt32()
            completionTokens = try r.readUInt32()
            batchSize = try r.readUInt32()
        }
        public func encode(to w: inout WireWriter) {
            w.writeString(finishReason)
            w.writeUInt32(promptTokens)
            w.writeUInt32(completionTokens)
            w.writeUInt32(batchSize)
        }
    }

    /// Embeds texts. Reply: `EmbedReply`.
    public struct Embed: WireMessage, Equatable {
        public static let type: UInt16 = 2
        public var requestID: String
        public var model: String
        public var inputs: [String]
        public init(requestID: String, model: String, inputs: [String]) {
            self.requestID = requestID
            self.model = model
            self.inputs = inputs
        }
        public init(from r: inout WireReader) throws {
            requestID = try r.readString(maxLength: 256)
            model = try r.readString(maxLength: 256)
            inputs = try r.readArray(maxCount: 2048) { try $0.readString() }
        }
        public func encode(to w: inout WireWriter) {
            w.writeString(requestID)
            w.writeString(model)
            w.writeArray(inputs) { $0.writeString($1) }
        }
    }

    public struct EmbedReply: WireCodable, Equatable {
        public var vectors: [[Float]]
        public var promptTokens: UInt32
        public init(vectors: [[Float]], promptTokens: UInt32) {
            self.vectors = vectors
            self.promptTokens = promptTokens
        }
        /// The deployment that answered (batchd adds it; modeld leaves it out). Trailing and optional, so
        /// a reply without it decodes as before.
        public var route: Route?
        public init(from r: inout WireReader) throws {
            vectors = try r.readArray(maxCount: 2048) { r in try r.readArray(maxCount: 65_536, minElementSize: 4) { try $0.readFloat32() } }
            promptTokens = try r.readUInt32()
            route = r.isAtEnd ? nil : try Route(from: &r)
        }
        public func encode(to w: inout WireWriter) {
            w.writeArray(vectors) { w, v in w.writeArray(v) { $0.writeFloat32($1) } }
            w.writeUInt32(promptTokens)
            route?.encode(to: &w)
        }
    }

    /// Which deployment answers a request and for which model (the one asked for, or a fallback):
    /// batchd sends it as a generation's first frame (``GenerationFrameTag/route``) once a deployment has
    /// begun to answer, and at the end of an ``EmbedReply``.
    public struct Route: WireCodable, Equatable {
        /// The deployment (modeld instance) that answers.
        public var deployment: String
        /// The model it answers as: the request's, or the fallback that took over.
        public var model: String
        public init(deployment: String, model: String) {
            self.deployment = deployment
            self.model = model
        }
        public init(from r: inout WireReader) throws {
            deployment = try r.readString()
            model = try r.readString()
        }
        public func encode(to w: inout WireWriter) {
            w.writeString(deployment)
            w.writeString(model)
        }
    }

    /// Asks a modeld instance whether it can serve now, at no token cost (batchd's health probe):
    /// the built-in engine answers from its loop's heartbeat, an upstream deployment from a
    /// `GET {url}/models`. Reply: ``HealthReply``. A modeld older than this message answers ERROR
    /// `unknownType` (7), which batchd takes as no verdict.
    public struct Health: WireMessage, Equatable {
        public static let type: UInt16 = 3
        public init() {}
        public init(from r: inout WireReader) throws {}
        public func encode(to w: inout WireWriter) {}
    }

    /// Whether the instance can serve, and if not, why and for how long it asked to be left alone.
    public struct HealthReply: WireCodable, Equatable {
        /// The instance can take requests now.
        public var ready: Bool
        /// Seconds the upstream asked to be left alone (its 429's Retry-After); 0 when it did not say.
        public var retryAfterSeconds: UInt32
        /// Why it is not ready, in words a log may show (no addresses, no keys); empty when ready.
        public var reason: String
        public init(ready: Bool, retryAfterSeconds: UInt32 = 0, reason: String = "") {
            self.ready = ready
            self.retryAfterSeconds = retryAfterSeconds
            self.reason = reason
        }
        public init(from r: inout WireReader) throws {
            ready = try r.readBool()
            retryAfterSeconds = try r.readUInt32()
            reason = try r.readString(maxLength: 4096)
        }
        public func encode(to w: inout WireWriter) {
            w.writeBool(ready)
            w.writeUInt32(retryAfterSeconds)
            w.writeString(reason)
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
    public static func decode(_ raw: AsyncThrowingStream<[UInt8], any Error>) -> AsyncThrowingStream<GenerationProtocol.Event, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await payload in raw {
                        // Chunks and Done are told apart by a leading tag byte.
                        guard let tag = payload.first else { throw IPCError.protocolViolation("empty generation frame") }
                        let body = Array(payload.dropFirst())
                        switch tag {
                        case GenerationFrameTag.chunk: continuation.yield(.chunk(try GenerationProtocol.Chunk(decoding: body)))
                        case GenerationFrameTag.done: continuation.yield(.done(try GenerationProtocol.Done(decoding: body)))
                        case GenerationFrameTag.route: continuation.yield(.route(try GenerationProtocol.Route(decoding: body)))
                        default: throw IPCError.protocolViolation("unknown generation frame tag \(tag)")
                        }
                    }
                    continuation.finish()
                } catch let e as WireError {
                    continuation.finish(throwing: IPCError.protocolViolation("undecodable generation frame: \(e)"))
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
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
