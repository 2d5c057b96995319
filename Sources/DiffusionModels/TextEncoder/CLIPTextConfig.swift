import Foundation
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
        func range(_ field: String, _ value: Int, _ r: ClosedRange<Int>) throws {
            guard r.contains(value) else {
                throw DiffusionModelError.outOfRange(file: file, field: field, value: "\(value)",
                                                     allowed: "an integer in \(r.lowerBound)...\(r.upperBound)")
            }
        }
        if activation == nil { throw fail("hidden_act", hiddenAct, "quick_gelu, gelu, gelu_new, gelu_pytorch_tanh") }
        let ranges = DiffusionConfigRanges.self
        try range("vocab_size", vocabSize, ranges.vocabulary)
        try range("hidden_size", hiddenSize, ranges.channels)
        try range("intermediate_size", intermediateSize, ranges.intermediate)
        try range("num_hidden_layers", numHiddenLayers, ranges.textLayers)
        try range("num_attention_heads", numAttentionHeads, ranges.heads)
        if hiddenSize % numAttentionHeads != 0 {
            throw fail("num_attention_heads", numAttentionHeads, "a divisor of hidden_size \(hiddenSize)")
        }
        try range("max_position_embeddings", maxPositionEmbeddings, ranges.positions)
        if !(layerNormEps.isFinite && layerNormEps > 0 && layerNormEps <= Double(ranges.epsilon.upperBound)) {
            throw DiffusionModelError.outOfRange(file: file, field: "layer_norm_eps", value: "\(layerNormEps)",
                                                 allowed: "a finite number in (0, \(ranges.epsilon.upperBound)]")
        }
        if let p = projectionDim { try range("projection_dim", p, ranges.channels) }
        if let b = bosTokenID { try range("bos_token_id", b, 0...(vocabSize - 1)) }
        try range("eos_token_id", eosTokenID, 0...(vocabSize - 1))
    }

    /// Parses and validates a text_encoder/config.json's bytes; `file` names it in errors (a pure entry point: no
    /// file access). Missing fields take transformers' defaults; wrong types and out-of-range values throw
    /// `DiffusionModelError` naming the file and the field.
    public init(json data: Data, file: String = "text_encoder/config.json") throws {
        let raw = try decodeConfigObject(data, file: file)
        do {
            self = try JSONDecoder().decode(CLIPTextConfig.self, from: JSONEncoder().encode(raw))
        } catch let DecodingError.typeMismatch(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw DiffusionModelError.badConfig(file: file, reason: "field \"\(field)\" has unexpected value \(raw[field] ?? .null)")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw DiffusionModelError.badConfig(file: file, reason: "field \"\(field)\" has unexpected value \(raw[field] ?? .null)")
        } catch {
            throw DiffusionModelError.badConfig(file: file, reason: "not a CLIP text config")
        }
        try validate(file: file)
    }

    /// Reads and validates `url` (bounded, refusing directories and FIFOs).
    public init(contentsOf url: URL) throws {
        try self.init(json: readConfigFile(url), file: url.path)
    }
}
