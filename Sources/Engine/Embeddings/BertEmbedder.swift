import Foundation

/// An error from loading or running a BERT embedding model; the message names the path or value at fault.
public struct BertEmbedderError: Error, CustomStringConvertible {
    /// What was wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The architecture numbers of a BERT model, from its `config.json`.
public struct BertConfig: Sendable, Equatable {
    /// Width of the hidden states (384 for all-MiniLM-L6-v2).
    public var hiddenSize: Int
    /// Number of encoder layers.
    public var layers: Int
    /// Attention heads per layer.
    public var heads: Int
    /// Width of the feed-forward layer.
    public var intermediateSize: Int
    /// Vocabulary size.
    public var vocabSize: Int
    /// Number of position embeddings (the longest input the model can take).
    public var maxPositions: Int
    /// Number of token-type (segment) embeddings.
    public var typeVocabSize: Int
    /// LayerNorm epsilon.
    public var layerNormEps: Float

    /// Reads and validates `config.json`.
    /// - Throws: `BertEmbedderError` naming the file and the field when it is missing, malformed or unsupported.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BertEmbedderError("model config \(path): cannot read")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw BertEmbedderError("model config \(path): not a JSON object")
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let raw = object[key] else {
                if let value { return value }
                throw BertEmbedderError("model config \(path): missing \(key)")
            }
            guard let number = raw as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
                  number.doubleValue >= 1, number.doubleValue <= 1e7
            else {
                throw BertEmbedderError("model config \(path): \(key) must be a positive integer, got \(raw)")
            }
            return number.intValue
        }
        if let type = object["model_type"] as? String, type != "bert" {
            throw BertEmbedderError("model config \(path): model_type '\(type)' is not supported (only bert)")
        }
        if let act = object["hidden_act"] as? String, act != "gelu" {
            throw BertEmbedderError("model config \(path): hidden_act '\(act)' is not supported (only gelu)")
        }
        if let kind = object["position_embedding_type"] as? String, kind != "absolute" {
            throw BertEmbedderError("model config \(path): position_embedding_type '\(kind)' is not supported (only absolute)")
        }
        hiddenSize = try int("hidden_size")
        layers = try int("num_hidden_layers")
        heads = try int("num_attention_heads")
        intermediateSize = try int("intermediate_size")
        vocabSize = try int("vocab_size")
        maxPositions = try int("max_position_embeddings", default: 512)
        typeVocabSize = try int("type_vocab_size", default: 2)
        let eps = (object["layer_norm_eps"] as? NSNumber)?.doubleValue ?? 1e-12
        guard eps > 0, eps < 1 else {
            throw BertEmbedderError("model config \(path): layer_norm_eps \(eps) is out of range")
        }
        layerNormEps = Float(eps)
        guard hiddenSize % heads == 0 else {
            throw BertEmbedderError("model config \(path): hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(heads)")
        }
    }
}

/// Sentence embeddings from a BERT encoder (all-MiniLM-L6-v2 and models shaped like it), computed on the
/// CPU in pure Swift: WordPiece tokenization, the encoder, mean pooling over the tokens and L2
/// normalisation — what sentence-transformers returns for such a model.
///
/// Thread-safe: one instance can serve concurrent `embed` calls. Each call uses `EngineThreads.count`
/// threads for its matrix work.
public final class BertEmbedder: Sendable {
    /// The model's configuration.
    public let config: BertConfig
    /// The tokenizer (its `maxLength` is the truncation limit).
    public let tokenizer: WordPieceTokenizer
    /// The longest input in tokens, `[CLS]` and `[SEP]` included; longer texts are truncated.
    public let maxTokens: Int
    private let weights: BertWeights

    /// The length of each embedding vector (384 for all-MiniLM-L6-v2).
    public var dimension: Int { config.hiddenSize }

    /// True when the word embeddings are read in place from the mapped file (not copied at load).
    var wordEmbeddingsAreMapped: Bool { weights.wordEmbeddings.isMapped }

    /// Loads a model directory holding `model.safetensors`, `vocab.txt` and `config.json` (and, optionally,
    /// `tokenizer_config.json` for `do_lower_case`/`strip_accents`).
    /// - Parameters:
    ///   - directory: The model folder, e.g. `models/minilm`.
    ///   - maxTokens: Truncation length including `[CLS]`/`[SEP]`; 256 is sentence-transformers'
    ///     `max_seq_length` for all-MiniLM-L6-v2. Capped at the model's position count.
    /// - Throws: `BertEmbedderError`, `SafeTensorsError` or `WordPieceError` naming the path and what is wrong.
    public init(directory: String, maxTokens: Int = 256) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw BertEmbedderError("embedding model directory \(directory) does not exist")
        }
        guard isDirectory.boolValue else {
            throw BertEmbedderError("embedding model path \(directory) is not a directory")
        }
        let dir = URL(fileURLWithPath: directory)
        func file(_ name: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else {
                throw BertEmbedderError("embedding model directory \(directory) has no \(name)")
            }
            return path
        }
        let config = try BertConfig(path: try file("config.json"))
        var lowercase = true
        var stripAccents: Bool? = nil
        let tokenizerConfigPath = dir.appendingPathComponent("tokenizer_config.json").path
        if let data = FileManager.default.contents(atPath: tokenizerConfigPath) {
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw BertEmbedderError("tokenizer config \(tokenizerConfigPath): not a JSON object")
            }
            if let value = object["do_lower_case"] as? Bool { lowercase = value }
            if let value = object["strip_accents"] as? Bool { stripAccents = value }
        }
        guard maxTokens >= 2 else { throw BertEmbedderError("maxTokens \(maxTokens) must be at least 2") }
        let limit = min(maxTokens, config.maxPositions)
        let tokenizer = try WordPieceTokenizer(vocabPath: try file("vocab.txt"), lowercase: lowercase,
                                               stripAccents: stripAccents, maxLength: limit)
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw BertEmbedderError("vocab.txt in \(directory) has \(tokenizer.vocabularySize) tokens but config.json says vocab_size \(config.vocabSize)")
        }
        let tensors = try SafeTensorsFile(path: try file("model.safetensors"))
        self.weights = try BertWeights(tensors, config: config)
        self.config = config
        self.tokenizer = tokenizer
        self.maxTokens = limit
    }

    /// The number of tokens the model sees for `text` (after truncation, `[CLS]` and `[SEP]` included);
    /// use it for usage accounting.
    public func tokenCount(_ text: String) -> Int {
        tokenizer.encode(text).count
    }

    /// Embeds one text.
    /// - Returns: A unit vector of `dimension` floats.
    public func embed(_ text: String) throws -> [Float] {
        try embed([text])[0]
    }

    /// Embeds a batch of texts in one pass: all tokens of the batch go through each linear layer as a
    /// single matrix (no padding), attention runs per sentence.
    /// - Parameter texts: Any number of texts, of any length (each is truncated to `maxTokens`).
    /// - Returns: One unit vector of `dimension` floats per text, in order.
    /// - Throws: `BertEmbedderError` when a token id falls outside the embedding table.
    public func embed(_ texts: [String]) throws -> [[Float]] {
        let encoded = texts.map { tokenizer.encode($0) }
        for ids in encoded {
            if let bad = ids.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
                throw BertEmbedderError("token id \(bad) is outside the model's vocabulary of \(config.vocabSize)")
            }
        }
        return embed(tokenIDs: encoded)
    }

    /// Embeds already-tokenized inputs (each starting with `[CLS]`, ending with `[SEP]`, at most
    /// `maxTokens` long, ids below `config.vocabSize`).
    func embed(tokenIDs: [[Int32]]) -> [[Float]] {
        var results: [[Float]] = []
        results.reserveCapacity(tokenIDs.count)
        // Bound the activation memory (about 15 KB per token for MiniLM) by running large batches in
        // passes of at most this many tokens; a pass this big already keeps the GEMMs efficient.
        let tokensPerPass = 2048
        var first = 0
        while first < tokenIDs.count {
            var last = first
            var total = 0
            while last < tokenIDs.count && (last == first || total + tokenIDs[last].count <= tokensPerPass) {
                total += tokenIDs[last].count
                last += 1
            }
            results.append(contentsOf: weights.forward(Array(tokenIDs[first..<last]), config: config))
            first = last
        }
        return results
    }
}

/// One encoder layer's weights.
struct BertLayerWeights: Sendable {
    /// Q, K and V projections fused into one [3·hidden × hidden] matrix.
    let qkv: BertPackedMatrix
    let attentionOut: BertPackedMatrix
    let attentionNormGamma: [Float]
    let attentionNormBeta: [Float]
    let intermediate: BertPackedMatrix
    let output: BertPackedMatrix
    let outputNormGamma: [Float]
    let outputNormBeta: [Float]
}

/// All weights of the encoder, loaded from safetensors and packed for the kernels.
struct BertWeights: Sendable {
    let wordEmbeddings: BertEmbeddingTable
    let positionEmbeddings: [Float]
    let tokenTypeEmbedding: [Float]
    let embeddingNormGamma: [Float]
    let embeddingNormBeta: [Float]
    let layers: [BertLayerWeights]

    init(_ file: SafeTensorsFile, config: BertConfig) throws {
        let h = config.hiddenSize, f = config.intermediateSize
        // Checkpoints saved from BertForX carry a "bert." prefix; sentence-transformers' do not.
        let prefix = file.tensors["embeddings.word_embeddings.weight"] == nil
            && file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func tensor(_ name: String, _ shape: [Int]) throws -> [Float] {
            try file.floats(prefix + name, shape: shape)
        }
        wordEmbeddings = try BertEmbeddingTable(file, name: prefix + "embeddings.word_embeddings.weight",
                                                vocabulary: config.vocabSize, width: h)
        positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [config.maxPositions, h])
        let types = try tensor("embeddings.token_type_embeddings.weight", [config.typeVocabSize, h])
        tokenTypeEmbedding = Array(types[0..<h])  // every token is segment 0
        embeddingNormGamma = try tensor("embeddings.LayerNorm.weight", [h])
        embeddingNormBeta = try tensor("embeddings.LayerNorm.bias", [h])
        var layers: [BertLayerWeights] = []
        for l in 0..<config.layers {
            let p = "encoder.layer.\(l)."
            func linear(_ name: String, out: Int, in inputs: Int) throws -> (w: [Float], b: [Float]) {
                (try tensor(p + name + ".weight", [out, inputs]), try tensor(p + name + ".bias", [out]))
            }
            let q = try linear("attention.self.query", out: h, in: h)
            let k = try linear("attention.self.key", out: h, in: h)
            let v = try linear("attention.self.value", out: h, in: h)
            let o = try linear("attention.output.dense", out: h, in: h)
            let i = try linear("intermediate.dense", out: f, in: h)
            let d = try linear("output.dense", out: h, in: f)
            layers.append(BertLayerWeights(
                qkv: BertPackedMatrix(weight: q.w + k.w + v.w, bias: q.b + k.b + v.b, n: 3 * h, k: h),
                attentionOut: BertPackedMatrix(weight: o.w, bias: o.b, n: h, k: h),
                attentionNormGamma: try tensor(p + "attention.output.LayerNorm.weight", [h]),
                attentionNormBeta: try tensor(p + "attention.output.LayerNorm.bias", [h]),
                intermediate: BertPackedMatrix(weight: i.w, bias: i.b, n: f, k: h),
                output: BertPackedMatrix(weight: d.w, bias: d.b, n: h, k: f),
                outputNormGamma: try tensor(p + "output.LayerNorm.weight", [h]),
                outputNormBeta: try tensor(p + "output.LayerNorm.bias", [h])))
        }
        self.layers = layers
        // Every other tensor was copied out (the linear layers packed); their pages of the mapping would
        // otherwise stay resident for nothing. The word embeddings' rows come back as texts use them.
        file.releaseResidentPages()
    }

    /// Runs the encoder on a batch of token sequences and returns the pooled, normalised embeddings.
    func forward(_ batch: [[Int32]], config: BertConfig) -> [[Float]] {
        let h = config.hiddenSize, f = config.intermediateSize
        var starts: [Int] = []
        var lengths: [Int] = []
        var m = 0
        for ids in batch {
            starts.append(m)
            lengths.append(ids.count)
            m += ids.count
        }
        if m == 0 { return batch.map { _ in [Float](repeating: 0, count: h) } }
        let x = UnsafeMutablePointer<Float>.allocate(capacity: m * h)
        let qkv = UnsafeMutablePointer<Float>.allocate(capacity: m * 3 * h)
        let context = UnsafeMutablePointer<Float>.allocate(capacity: m * h)
        let projected = UnsafeMutablePointer<Float>.allocate(capacity: m * h)
        let hiddenFF = UnsafeMutablePointer<Float>.allocate(capacity: m * f)
        defer {
            x.deallocate(); qkv.deallocate(); context.deallocate(); projected.deallocate(); hiddenFF.deallocate()
        }
        let eps = config.layerNormEps

        // Embeddings: word + position + token type 0, then LayerNorm.
        positionEmbeddings.withUnsafeBufferPointer { position in
            tokenTypeEmbedding.withUnsafeBufferPointer { type in
                guard let position = position.baseAddress, let type = type.baseAddress else { return }
                for (s, ids) in batch.enumerated() {
                    for (t, id) in ids.enumerated() {
                        let dst = x + (starts[s] + t) * h
                        let w = wordEmbeddings.row(Int(id)), p = position + t * h
                        for i in 0..<h { dst[i] = w[i] + p[i] + type[i] }
                    }
                }
            }
        }
        withBuffers(embeddingNormGamma, embeddingNormBeta) { g, b in
            bertAddLayerNorm(rows: m, width: h, x: x, y: nil, gamma: g, beta: b, eps: eps)
        }

        for layer in layers {
            bertGEMM(m: m, a: x, lda: h, w: layer.qkv, c: qkv, ldc: 3 * h)
            bertAttention(qkv: qkv, out: context, hidden: h, heads: config.heads, starts: starts, lengths: lengths)
            bertGEMM(m: m, a: context, lda: h, w: layer.attentionOut, c: projected, ldc: h)
            withBuffers(layer.attentionNormGamma, layer.attentionNormBeta) { g, b in
                bertAddLayerNorm(rows: m, width: h, x: x, y: projected, gamma: g, beta: b, eps: eps)
            }
            bertGEMM(m: m, a: x, lda: h, w: layer.intermediate, c: hiddenFF, ldc: f, gelu: true)
            bertGEMM(m: m, a: hiddenFF, lda: f, w: layer.output, c: projected, ldc: h)
            withBuffers(layer.outputNormGamma, layer.outputNormBeta) { g, b in
                bertAddLayerNorm(rows: m, width: h, x: x, y: projected, gamma: g, beta: b, eps: eps)
            }
        }

        // Mean pooling over each sentence's tokens (all are real tokens: nothing is padded), then L2.
        var out: [[Float]] = []
        out.reserveCapacity(batch.count)
        for s in 0..<batch.count {
            var sum = [Double](repeating: 0, count: h)
            for t in 0..<lengths[s] {
                let row = x + (starts[s] + t) * h
                for i in 0..<h { sum[i] += Double(row[i]) }
            }
            let n = Double(max(1, lengths[s]))
            var norm = 0.0
            for i in 0..<h { sum[i] /= n; norm += sum[i] * sum[i] }
            // torch.nn.functional.normalize: divide by max(‖v‖, 1e-12).
            let scale = 1 / max(norm.squareRoot(), 1e-12)
            out.append(sum.map { Float($0 * scale) })
        }
        return out
    }
}

@inline(__always)
private func withBuffers(_ a: [Float], _ b: [Float], _ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> Void) {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            guard let pa = pa.baseAddress, let pb = pb.baseAddress else { return }
            body(pa, pb)
        }
    }
}
