import Checkpoints
import Foundation
import TensorCore

/// What a CLIP text encoder returns for a batch of token ids.
public struct CLIPTextOutput: Sendable {
    /// (B, L, D): the last layer's output after `final_layer_norm` (SD 1.x conditioning).
    public var lastHiddenState: Tensor
    /// numHiddenLayers + 1 tensors (B, L, D): the embeddings, then each layer's output (the last one before
    /// `final_layer_norm`), as transformers' `hidden_states`; `hiddenStates[hiddenStates.count - 2]` is the
    /// penultimate layer SD 2.x / SDXL condition on. Empty unless requested.
    public var hiddenStates: [Tensor]
    /// (B, D): `lastHiddenState` at the end-of-text position of each sequence (transformers' `pooler_output`).
    public var pooled: Tensor
    /// (B, projection_dim): `text_projection(pooled)`, only from `CLIPTextModelWithProjection` (SDXL's
    /// `add_text_embeds`).
    public var textEmbeds: Tensor?

    /// transformers' `hidden_states[index]`, negative indices counting from the end (-2 is the penultimate layer).
    public func hiddenState(_ index: Int) -> Tensor? {
        let i = index < 0 ? hiddenStates.count + index : index
        return hiddenStates.indices.contains(i) ? hiddenStates[i] : nil
    }
}

/// CLIP's text transformer, port of transformers' `CLIPTextModel`: token + position embeddings, pre-LayerNorm
/// layers with causal multi-head self-attention and an MLP (quick_gelu or gelu), `final_layer_norm`, and the pooled
/// end-of-text state. Parameters load under transformers' names (`text_model.embeddings.token_embedding.weight`,
/// `text_model.encoder.layers.N.self_attn.q_proj.weight`, ...; the `text_model.` prefix is optional, as transformers 5
/// writes CLIPTextModel without it).
///
/// ```swift
/// let encoder = try CLIPTextModel(folder: model.appendingPathComponent("text_encoder"))
/// let out = try encoder([tokenizer.encode("copper metal scratches").ids])
/// let conditioning = out.lastHiddenState            // (1, 77, 768) for SD 1.5
/// ```
public final class CLIPTextModel: Sendable {
    public let config: CLIPTextConfig
    let tokenEmbedding: Tensor      // (V, D)
    let positionEmbedding: Tensor   // (P, D)
    let layers: [CLIPEncoderLayer]
    let finalNormWeight: Tensor, finalNormBias: Tensor
    let activation: Activation

    /// Opens a diffusers `text_encoder/` folder (config.json + model[.variant].safetensors).
    public convenience init(folder: URL, variant: String? = nil) throws {
        let weights = try ComponentWeights.open(folder: folder, variant: variant)
        try self.init(weights: weights)
        try weights.verifyAllUsed(allowing: CLIPTextModel.ignorableTensors)
    }

    /// Loads from opened weights, with the folder's config.json unless `config` is given.
    public convenience init(weights: ComponentWeights, config: CLIPTextConfig? = nil) throws {
        let file = weights.folder.appendingPathComponent("config.json").path
        let config = try config ?? weights.config(CLIPTextConfig.self)
        try config.validate(file: file)
        try config.parameterPlan(prefix: CLIPTextModel.prefix(of: weights), withProjection: false)
            .verify(against: weights, ignorable: CLIPTextModel.ignorableTensors)
        let precision = weights.storedPrecision
        try self.init(config: config, prefix: CLIPTextModel.prefix(of: weights), keeping: precision,
                      parameter: { try weights.tensor($0, shape: $1) },
                      matrix: { try StoredMatrix.read($0, rows: $1, cols: $2, keeping: precision, from: weights) })
    }

    /// Builds the model from any parameter source called with transformers' names (`text_model.` prefixed) and
    /// shapes, e.g. random weights of a real config for benchmarks.
    ///
    /// ```swift
    /// var rng = SplitMix64(seed: 0)
    /// let clipL = try CLIPTextModel(config: CLIPTextConfig(hiddenSize: 768, intermediateSize: 3072,
    ///                                                      numAttentionHeads: 12)) { _, shape in
    ///     Tensor.random(shape, in: -0.02...0.02, using: &rng)
    /// }
    /// ```
    /// `precision` `.float16` keeps the linear-layer weights 16-bit as a half-precision file would (values rounded).
    public convenience init(config: CLIPTextConfig, keeping precision: StoredPrecision = .float32,
                            parameters: (_ name: String, _ shape: [Int]) throws -> Tensor) throws {
        try config.validate(file: "CLIPTextConfig")
        try self.init(config: config, prefix: "text_model.", keeping: precision, parameter: parameters)
    }

    /// `precision`: what the linear-layer weights are kept in (the file's half precision, as the UNet does:
    /// bigG's 694M linear parameters take 1.4 GB instead of 2.8).
    /// `matrix`, when given, reads the projection weights (so a file's half values are kept without widening).
    init(config: CLIPTextConfig, prefix: String, keeping precision: StoredPrecision,
         parameter: (_ name: String, _ shape: [Int]) throws -> Tensor,
         matrix: ((_ name: String, _ rows: Int, _ cols: Int) throws -> StoredMatrix)? = nil) throws {
        self.config = config
        activation = config.activation!
        let d = config.hiddenSize, f = config.intermediateSize
        tokenEmbedding = try parameter(prefix + "embeddings.token_embedding.weight", [config.vocabSize, d])
        positionEmbedding = try parameter(prefix + "embeddings.position_embedding.weight", [config.maxPositionEmbeddings, d])
        layers = try (0..<config.numHiddenLayers).map { i in
            try CLIPEncoderLayer(prefix: "\(prefix)encoder.layers.\(i).", width: d, intermediate: f, keeping: precision,
                                 parameter: parameter, matrix: matrix)
        }
        finalNormWeight = try parameter(prefix + "final_layer_norm.weight", [d])
        finalNormBias = try parameter(prefix + "final_layer_norm.bias", [d])
    }

    /// Tensors older checkpoints carry that the model does not use (the `position_ids` buffer).
    static func ignorableTensors(_ name: String) -> Bool { name.hasSuffix("embeddings.position_ids") }

    /// "text_model." when the checkpoint uses transformers 4 names, "" for transformers 5's CLIPTextModel.
    static func prefix(of weights: ComponentWeights) -> String {
        weights.contains("text_model.embeddings.token_embedding.weight") ? "text_model." : ""
    }

    /// Encodes B sequences of equal length L <= max_position_embeddings (77 from `CLIPTokenizer.encode`).
    /// `outputHiddenStates` keeps every layer's output (needed for SD 2.x / SDXL's penultimate layer).
    public func callAsFunction(_ ids: [[Int]], outputHiddenStates: Bool = true) throws -> CLIPTextOutput {
        try validate(ids)
        let heads = config.numAttentionHeads
        let eps = Float(config.layerNormEps)
        // h (B, L, D)
        var h = embeddingLookup(ids: ids, tokenTable: tokenEmbedding, positionTable: positionEmbedding)
        var hidden: [Tensor] = outputHiddenStates ? [h] : []
        for layer in layers {
            h = layer(h, heads: heads, eps: eps, activation: activation)
            if outputHiddenStates { hidden.append(h) }
        }
        let last = layerNorm(h, weight: finalNormWeight, bias: finalNormBias, eps: eps)
        let pooled = gatherRows(last, positions: pooledPositions(ids))
        return CLIPTextOutput(lastHiddenState: last, hiddenStates: hidden, pooled: pooled, textEmbeds: nil)
    }

    /// diffusers' `clip_skip` k for SD pipelines: final_layer_norm(hidden_states[-(k + 1)]) of an output computed
    /// with `outputHiddenStates` (k = 0 is `last_hidden_state`); nil when k is negative or beyond the layers.
    /// (SDXL pipelines use `hiddenState(-(k + 2))` without the norm.)
    public func clipSkipped(_ out: CLIPTextOutput, skip: Int) -> Tensor? {
        guard skip >= 0, let h = out.hiddenState(-(skip + 1)) else { return nil }
        return layerNorm(h, weight: finalNormWeight, bias: finalNormBias, eps: Float(config.layerNormEps))
    }

    /// The position of each sequence the pooled output is read from, as transformers' CLIPTextModel picks it:
    /// with the legacy `eos_token_id == 2`, the (first) largest id; otherwise the first position holding
    /// `eos_token_id`, and 0 when there is none (torch argmax of an all-false mask).
    public func pooledPositions(_ ids: [[Int]]) -> [Int] {
        ids.map { row in
            if config.eosTokenID == 2 {
                var best = 0
                for (i, id) in row.enumerated() where id > row[best] { best = i }
                return best
            }
            return row.firstIndex(of: config.eosTokenID) ?? 0
        }
    }

    private func validate(_ ids: [[Int]]) throws {
        guard let l = ids.first?.count, l > 0 else { throw DiffusionModelError.badInput("CLIP text encoder: no token ids") }
        guard l <= config.maxPositionEmbeddings else {
            throw DiffusionModelError.badInput("CLIP text encoder: \(l) tokens exceed max_position_embeddings \(config.maxPositionEmbeddings)")
        }
        for (b, row) in ids.enumerated() {
            guard row.count == l else {
                throw DiffusionModelError.badInput("CLIP text encoder: sequence \(b) has \(row.count) ids, sequence 0 has \(l)")
            }
            if let bad = row.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
                throw DiffusionModelError.badInput("CLIP text encoder: token id \(bad) in sequence \(b) is outside the vocabulary 0..<\(config.vocabSize)")
            }
        }
    }
}

/// `CLIPTextModel` plus `text_projection` (no bias), port of transformers' `CLIPTextModelWithProjection`
/// (SDXL's `text_encoder_2`): `textEmbeds = pooled W^T`.
///
/// ```swift
/// let encoder2 = try CLIPTextModelWithProjection(folder: model.appendingPathComponent("text_encoder_2"), variant: "fp16")
/// let out = try encoder2([tokenizer2.encode(prompt).ids])
/// let penultimate = out.hiddenState(-2)!, pooled = out.textEmbeds!   // (1, 77, 1280), (1, 1280)
/// ```
public final class CLIPTextModelWithProjection: Sendable {
    public let textModel: CLIPTextModel
    let projection: Tensor   // (P, D)
    public var config: CLIPTextConfig { textModel.config }

    public convenience init(folder: URL, variant: String? = nil) throws {
        let weights = try ComponentWeights.open(folder: folder, variant: variant)
        try self.init(weights: weights)
        try weights.verifyAllUsed(allowing: CLIPTextModel.ignorableTensors)
    }

    public init(weights: ComponentWeights, config: CLIPTextConfig? = nil) throws {
        let file = weights.folder.appendingPathComponent("config.json").path
        let config = try config ?? weights.config(CLIPTextConfig.self)
        try config.validate(file: file)
        guard let p = config.projectionDim else {
            throw DiffusionModelError.unsupportedConfig(file: file, field: "projection_dim", value: "null (CLIPTextModelWithProjection needs one)")
        }
        try config.parameterPlan(prefix: CLIPTextModel.prefix(of: weights), withProjection: true)
            .verify(against: weights, ignorable: CLIPTextModel.ignorableTensors)
        let precision = weights.storedPrecision
        textModel = try CLIPTextModel(config: config, prefix: CLIPTextModel.prefix(of: weights), keeping: precision,
                                      parameter: { try weights.tensor($0, shape: $1) },
                                      matrix: { try StoredMatrix.read($0, rows: $1, cols: $2, keeping: precision, from: weights) })
        projection = try weights.tensor("text_projection.weight", shape: [p, config.hiddenSize])
    }

    /// Builds the model from any parameter source (transformers' names: `text_model.` ..., `text_projection.weight`).
    public init(config: CLIPTextConfig, keeping precision: StoredPrecision = .float32,
                parameters: (_ name: String, _ shape: [Int]) throws -> Tensor) throws {
        try config.validate(file: "CLIPTextConfig")
        guard let p = config.projectionDim else {
            throw DiffusionModelError.unsupportedConfig(file: "CLIPTextConfig", field: "projection_dim", value: "null (CLIPTextModelWithProjection needs one)")
        }
        textModel = try CLIPTextModel(config: config, prefix: "text_model.", keeping: precision, parameter: parameters)
        projection = try parameters("text_projection.weight", [p, config.hiddenSize])
    }

    public func callAsFunction(_ ids: [[Int]], outputHiddenStates: Bool = true) throws -> CLIPTextOutput {
        var out = try textModel(ids, outputHiddenStates: outputHiddenStates)
        out.textEmbeds = linear(out.pooled, weight: projection)
        return out
    }
}

extension ComponentWeights {
    /// `verifyAllUsed` that tolerates tensors a model knowingly skips.
    func verifyAllUsed(allowing ignorable: (String) -> Bool) throws {
        let unexpected = reportUnused().filter { !ignorable($0) }
        if !unexpected.isEmpty {
            throw CheckpointError.missingTensors(file: files.count == 1 ? files[0].path : folder.path,
                                                 missing: [], unexpected: unexpected)
        }
    }
}

/// One pre-LN transformer layer of CLIP's encoder (transformers' CLIPEncoderLayer):
/// h = h + out_proj(attn(LN1(h))) with causal attention, then h = h + fc2(act(fc1(LN2(h)))).
/// The projections are `LinearLayer`s, so their weights stay 16-bit when the file is (`StoredMatrix`); q, k and v
/// are stacked into one (3D, D) projection: with CLIP's 154 rows (2 x 77 tokens) one wide sgemm runs faster than
/// three narrow ones (bench/DESIGN_NOTES.md#clip-stacked-qkv).
struct CLIPEncoderLayer: Sendable {
    let norm1Weight: Tensor, norm1Bias: Tensor, norm2Weight: Tensor, norm2Bias: Tensor
    let qkv, out, fc1, fc2: LinearLayer
    let width: Int

    init(prefix: String, width d: Int, intermediate f: Int, keeping precision: StoredPrecision,
         parameter: (_ name: String, _ shape: [Int]) throws -> Tensor,
         matrix: ((_ name: String, _ rows: Int, _ cols: Int) throws -> StoredMatrix)?) throws {
        func t(_ name: String, _ shape: [Int]) throws -> Tensor { try parameter(prefix + name, shape) }
        func projection(_ name: String, _ rows: Int, _ cols: Int) throws -> LinearLayer {
            let weight = try matrix?(prefix + name + ".weight", rows, cols)
                ?? StoredMatrix(try t(name + ".weight", [rows, cols]), keeping: precision)
            return LinearLayer(weight: weight, bias: try t(name + ".bias", [rows]))
        }
        norm1Weight = try t("layer_norm1.weight", [d]); norm1Bias = try t("layer_norm1.bias", [d])
        norm2Weight = try t("layer_norm2.weight", [d]); norm2Bias = try t("layer_norm2.bias", [d])
        let q = try projection("self_attn.q_proj", d, d)
        let k = try projection("self_attn.k_proj", d, d)
        let v = try projection("self_attn.v_proj", d, d)
        qkv = LinearLayer(weight: StoredMatrix.stacked([q.weight, k.weight, v.weight]),
                          bias: Tensor(shape: [3 * d], scalars: [q, k, v].flatMap { $0.bias!.scalars }))
        width = d
        out = try projection("self_attn.out_proj", d, d)
        fc1 = try projection("mlp.fc1", f, d)
        fc2 = try projection("mlp.fc2", d, f)
    }

    // h (B, L, D) -> (B, L, D)
    func callAsFunction(_ h: Tensor, heads: Int, eps: Float, activation: Activation) -> Tensor {
        var h = h
        let x = layerNorm(h, weight: norm1Weight, bias: norm1Bias, eps: eps)
        let (q, k, v) = splitLastDimension(qkv(x), into3: width)
        let a = scaledDotProductAttention(query: q, key: k, value: v, heads: heads, causal: true)
        out.accumulate(a, into: &h)
        let y = layerNorm(h, weight: norm2Weight, bias: norm2Bias, eps: eps)
        fc2.accumulate(fc1(y, activation: activation), into: &h)   // fc1 (B, L, F)
        return h
    }
}

extension LinearLayer {
    /// A layer from an already loaded weight (out, in) and bias (out).
    init(weight: StoredMatrix, bias: Tensor?) {
        self.weight = weight
        self.bias = bias
    }
}

/// x (..., 3D) -> its three D-wide column blocks, each (..., D).
func splitLastDimension(_ x: Tensor, into3 d: Int) -> (Tensor, Tensor, Tensor) {
    let rows = x.count / (3 * d)
    var shape = x.shape
    shape[shape.count - 1] = d
    func part(_ p: Int) -> Tensor {
        let scalars = [Float](unsafeUninitializedCapacity: rows * d) { out, initialized in
            x.withUnsafeBufferPointer { px in
                for r in 0..<rows { (out.baseAddress! + r * d).update(from: px.baseAddress! + r * 3 * d + p * d, count: d) }
            }
            initialized = rows * d
        }
        return Tensor(shape: shape, scalars: scalars)
    }
    return (part(0), part(1), part(2))
}

/// rows[b] = x[b, positions[b], :]: x (B, L, D) -> (B, D).
func gatherRows(_ x: Tensor, positions: [Int]) -> Tensor {
    let b = x.shape[0], l = x.shape[1], d = x.shape[2]
    var out = [Float](repeating: 0, count: b * d)
    for (i, p) in positions.enumerated() {
        let src = (i * l + p) * d
        for j in 0..<d { out[i * d + j] = x.scalars[src + j] }
    }
    return Tensor(shape: [b, d], scalars: out)
}
