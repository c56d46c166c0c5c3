/// Continuous batched generation: many sequences, each with its own KV cache, position, sampling
/// settings and stop state, advanced together one token per `step()` so that one pass over the
/// weights serves them all. Sequences join (`add`) and leave (finish or `cancel`) between steps; a
/// joining sequence's whole prompt is run in the step it joins.
///
/// Not thread-safe: one owner (modeld's scheduler, a test, the CLI) calls it from one thread.
public final class BatchDecoder: @unchecked Sendable {
    /// What one step produced for one sequence.
    public struct Event: Sendable, Equatable {
        public let id: Int
        /// The token sampled in this step (nil for a cancelled sequence).
        public let token: Int32?
        /// New text, complete UTF-8 characters only, never part of a stop sequence.
        public let text: String
        /// Set on the sequence's last event.
        public let finish: FinishReason?
        public let promptTokens: Int
        public let completionTokens: Int
    }

    public let model: LlamaModel
    public let tokenizer: BPETokenizer
    /// Most sequences run in one step; more wait their turn in order of arrival.
    public let maxBatch: Int
    private var sequences: [Sequence] = []
    /// Tokens that end a sequence (end of text / end of turn).
    private let endTokens: Set<Int32>

    private final class Sequence {
        let id: Int
        let promptCount: Int
        var pending: [Int32]
        let cache: KVCache
        var sampler: Sampler
        var text: StreamingDecoder
        var stops: StopMatcher
        var generated = 0
        init(id: Int, prompt: [Int32], cache: KVCache, parameters: GenerationParameters, tokenizer: BPETokenizer) {
            self.id = id
            promptCount = prompt.count
            pending = prompt
            self.cache = cache
            sampler = Sampler(parameters)
            text = StreamingDecoder(tokenizer: tokenizer)
            stops = StopMatcher(parameters.stop)
        }
    }

    public init(model: LlamaModel, tokenizer: BPETokenizer, maxBatch: Int = 16) {
        self.model = model
        self.tokenizer = tokenizer
        self.maxBatch = max(1, maxBatch)
        var ends: Set<Int32> = [tokenizer.eosID]
        for name in ["<|endoftext|>", "<|im_end|>", "<|eot_id|>"] {
            if let id = tokenizer.id(of: name), tokenizer.isSpecial(id) { ends.insert(id) }
        }
        endTokens = ends
    }

    /// Sequences waiting or running.
    public var count: Int { sequences.count }
    public var isEmpty: Bool { sequences.isEmpty }
    /// The KV cache of the sequences held now: positions filled, and bytes allocated.
    public var kvCacheUsage: (tokens: Int, bytes: Int) {
        sequences.reduce((0, 0)) { ($0.0 + $1.cache.count, $0.1 + $1.cache.bytes) }
    }
    /// Whether a sequence with this id is waiting or running.
    public func contains(_ id: Int) -> Bool { sequences.contains { $0.id == id } }

    /// Queues a sequence; it starts in the next step that has room.
    /// - Throws: `ParameterError` for bad parameters, `EngineError` for an empty prompt, one that
    ///   leaves no room to generate in the model's context, a token outside the vocabulary, or a
    ///   duplicate id.
    public func add(id: Int, prompt: [Int32], parameters: GenerationParameters) throws {
        try parameters.validate()
        guard !prompt.isEmpty else { throw EngineError("the prompt is empty") }
        guard prompt.count < model.config.contextLength else {
            throw EngineError("the prompt has \(prompt.count) tokens; the model's context is \(model.config.contextLength)")
        }
        if let bad = prompt.first(where: { $0 < 0 || Int($0) >= model.config.vocabSize }) {
            throw EngineError("token id \(bad) is outside the vocabulary")
        }
        guard !contains(id) else { throw EngineError("sequence \(id) already exists") }
        sequences.append(Sequence(id: id, prompt: prompt, cache: model.makeCache(), parameters: parameters, tokenizer: tokenizer))
    }

    /// Drops a sequence, freeing its cache. Returns its final event, or nil if it is unknown.
    @discardableResult
    public func cancel(_ id: Int) -> Event? {
        guard let i = sequences.firstIndex(where: { $0.id == id }) else { return nil }
        let s = sequences.remove(at: i)
        return Event(id: id, token: nil, text: "", finish: .cancelled, promptTokens: s.promptCount, completionTokens: s.generated)
    }

    /// Runs one forward pass for up to `maxBatch` sequences and samples one token for each.
    /// Finished sequences are removed after their last event.
    public func step() throws -> [Event] {
        let batch = Array(sequences.prefix(maxBatch))
        guard !batch.isEmpty else { return [] }
        let logits = try model.forward(batch.map { LlamaModel.Step(cache: $0.cache, tokens: $0.pending) })
        var events: [Event] = []
        var finished: Set<Int> = []
        for (s, row) in zip(batch, logits) {
            var l = row
            let token = s.sampler.next(&l)
            s.generated += 1
            var finish: FinishReason?
            var piece = ""
            if endTokens.contains(token) && !s.sampler.parameters.ignoreEndTokens {
                finish = .stop
                piece = s.text.flush()
            } else {
                piece = s.text.append(token)
                if s.generated >= s.sampler.parameters.maxTokens || s.cache.count >= model.config.contextLength {
                    finish = .length
                    piece += s.text.flush()
                }
            }
            var (out, stopped) = s.stops.feed(piece)
            if stopped {
                finish = .stop
            } else if finish != nil {
                out += s.stops.flush()
            }
            s.pending = [token]
            if finish != nil { finished.insert(s.id) }
            events.append(Event(id: s.id, token: token, text: out, finish: finish, promptTokens: s.promptCount, completionTokens: s.generated))
        }
        sequences.removeAll { finished.contains($0.id) }
        return events
    }
}
