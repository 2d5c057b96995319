import TensorCore

/// The fields of a transformers `CLIPTextConfig` (a diffusers `text_encoder/config.json`) the encoder uses.
///
/// ```swift
/// let config = try weights.config(CLIPTextConfig.self)
/// try config.validate(file: "text_encoder/config.json")
/// ```
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    public var hiddenAct: String
    public var layerNormEps: Double
    public var projectionDim: Int?
    public var bosTokenID: Int?
    /// Where the pooled output is read: the first position holding this id, or, for legacy configs that say 2,
    /// the position of the largest id (transformers keeps that behaviour for checkpoints written before the fix).
    public var eosTokenID: Int

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps", projectionDim = "projection_dim"
        case bosTokenID = "bos_token_id", eosTokenID = "eos_token_id"
    }

    public init(vocabSize: Int = 49408, hiddenSize: Int = 512, intermediateSize: Int = 2048, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 8, maxPositionEmbeddings: Int = 77, hiddenAct: String = "quick_gelu",
                layerNormEps: Double = 1e-5, projectionDim: Int? = 512, bosTokenID: Int? = 49406,
                eosTokenID: Int = 49407) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.hiddenAct = hiddenAct; self.layerNormEps = layerNormEps
        self.projectionDim = projectionDim; self.bosTokenID = bosTokenID; self.eosTokenID = eosTokenID
    }

    /// Missing fields take transformers' CLIPTextConfig defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CLIPTextConfig()
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? d.maxPositionEmbeddings
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? d.layerNormEps
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? d.projectionDim
        bosTokenID = try c.decodeIfPresent(Int.self, forKey: .bosTokenID) ?? d.bosTokenID
        eosTokenID = try c.decodeIfPresent(Int.self, forKey: .eosTokenID) ?? d.eosTokenID
    }

    /// The activation of `hidden_act`, or nil when unsupported.
    public var activation: Activation? {
        switch hiddenAct {
        case "quick_gelu": return .quickGELU
        case "gelu": return .gelu
        case "gelu_new", "gelu_pytorch_tanh": return .geluTanh
        default: return nil
        }
    }

    /// Throws `DiffusionModelError.unsupportedConfig` naming the first field this implementation cannot run.
    public func validate(file: String) throws {
        func fail(_ field: String, _ value: Any, _ supported: String) -> DiffusionModelError {
            .unsupportedConfig(file: file, field: field, value: "\(value) (supported: \(supported))")
        }
        if activation == nil { throw fail("hidden_act", hiddenAct, "quick_gelu, gelu, gelu_new, gelu_pytorch_tanh") }
        if vocabSize < 1 { throw fail("vocab_size", vocabSize, ">= 1") }
        if hiddenSize < 1 { throw fail("hidden_size", hiddenSize, ">= 1") }
        if intermediateSize < 1 { throw fail("intermediate_size", intermediateSize, ">= 1") }
        if numHiddenLayers < 1 { throw fail("num_hidden_layers", numHiddenLayers, ">= 1") }
        if numAttentionHeads < 1 || hiddenSize % numAttentionHeads != 0 {
            throw fail("num_attention_heads", numAttentionHeads, "a divisor of hidden_size \(hiddenSize)")
        }
        if maxPositionEmbeddings < 1 { throw fail("max_position_embeddings", maxPositionEmbeddings, ">= 1") }
        if !(layerNormEps > 0) { throw fail("layer_norm_eps", layerNormEps, "> 0") }
        if let p = projectionDim, p < 1 { throw fail("projection_dim", p, ">= 1") }
    }
}
