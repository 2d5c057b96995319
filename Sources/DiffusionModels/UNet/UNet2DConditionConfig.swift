import Foundation

/// The fields of diffusers' `UNet2DConditionModel` config (unet/config.json) this port uses, with diffusers'
/// defaults; every other field that changes the network must hold its default value or loading fails naming it.
///
/// Mind diffusers' legacy naming: `attention_head_dim` is the number of heads per block (head width =
/// channels / heads) because `num_attention_heads` must be null (diffusers raises otherwise).
///
/// ```swift
/// let config = try UNet2DConditionConfig(contentsOf: folder.appendingPathComponent("config.json"))
/// print(config.blockOutChannels)   // [320, 640, 1280, 1280]
/// ```
public struct UNet2DConditionConfig: Codable, Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var centerInputSample: Bool
    public var flipSinToCos: Bool
    public var freqShift: Float
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var blockOutChannels: [Int]
    public var layersPerBlock: [Int]
    public var normNumGroups: Int
    public var normEps: Float
    public var crossAttentionDim: [Int]
    public var transformerLayersPerBlock: [Int]
    /// Attention heads per down block (diffusers' `attention_head_dim`, see above).
    public var attentionHeads: [Int]
    public var useLinearProjection: Bool
    public var upcastAttention: Bool
    /// "text_time" (SDXL) or nil.
    public var additionEmbedType: String?
    public var additionTimeEmbedDim: Int?
    public var projectionClassEmbeddingsInputDim: Int?
    public var sampleSize: Int?

    static let downTypes: Set<String> = ["CrossAttnDownBlock2D", "DownBlock2D"]
    static let upTypes: Set<String> = ["CrossAttnUpBlock2D", "UpBlock2D"]

    /// Reads and validates unet/config.json.
    public init(contentsOf url: URL) throws {
        try self.init(reader: ConfigReader(contentsOf: url))
    }

    /// Parses and validates a config.json's bytes; `file` names it in errors.
    public init(json data: Data, file: String = "unet/config.json") throws {
        try self.init(reader: ConfigReader(data: data, file: file))
    }

    /// Decodes the snake_case config.json object (e.g. through `ComponentWeights.config`).
    public init(from decoder: Decoder) throws {
        try self.init(reader: ConfigReader(raw: [String: JSONValue](from: decoder), file: "unet/config.json"))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: SnakeCaseKey.self)
        try c.encode("UNet2DConditionModel", forKey: .init("_class_name"))
        try c.encode(inChannels, forKey: .init("in_channels"))
        try c.encode(outChannels, forKey: .init("out_channels"))
        try c.encode(centerInputSample, forKey: .init("center_input_sample"))
        try c.encode(flipSinToCos, forKey: .init("flip_sin_to_cos"))
        try c.encode(freqShift, forKey: .init("freq_shift"))
        try c.encode(downBlockTypes, forKey: .init("down_block_types"))
        try c.encode(upBlockTypes, forKey: .init("up_block_types"))
        try c.encode(blockOutChannels, forKey: .init("block_out_channels"))
        try c.encode(layersPerBlock, forKey: .init("layers_per_block"))
        try c.encode(normNumGroups, forKey: .init("norm_num_groups"))
        try c.encode(normEps, forKey: .init("norm_eps"))
        try c.encode(crossAttentionDim, forKey: .init("cross_attention_dim"))
        try c.encode(transformerLayersPerBlock, forKey: .init("transformer_layers_per_block"))
        try c.encode(attentionHeads, forKey: .init("attention_head_dim"))
        try c.encode(useLinearProjection, forKey: .init("use_linear_projection"))
        try c.encode(upcastAttention, forKey: .init("upcast_attention"))
        try c.encodeIfPresent(additionEmbedType, forKey: .init("addition_embed_type"))
        try c.encodeIfPresent(additionTimeEmbedDim, forKey: .init("addition_time_embed_dim"))
        try c.encodeIfPresent(projectionClassEmbeddingsInputDim, forKey: .init("projection_class_embeddings_input_dim"))
        try c.encodeIfPresent(sampleSize, forKey: .init("sample_size"))
    }

    init(reader r: ConfigReader) throws {
        let file = r.file
        inChannels = try r.value("in_channels", 4)
        outChannels = try r.value("out_channels", 4)
        centerInputSample = try r.value("center_input_sample", false)
        flipSinToCos = try r.value("flip_sin_to_cos", true)
        freqShift = try r.value("freq_shift", Float(0))
        downBlockTypes = try r.value("down_block_types",
                                     ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"])
        upBlockTypes = try r.value("up_block_types",
                                   ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])
        blockOutChannels = try r.value("block_out_channels", [320, 640, 1280, 1280])
        let n = blockOutChannels.count
        // Ranges first (DiffusionConfigRanges), so that nothing below divides by zero or builds an invalid range.
        try r.check("block_out_channels (count)", n, DiffusionConfigRanges.blocks)
        try r.check("block_out_channels", blockOutChannels, DiffusionConfigRanges.channels)
        func perBlock(_ key: String, _ fallback: IntOrList) throws -> [Int] {
            guard let v = try r.value(key, fallback).perBlock(n) else {
                throw DiffusionModelError.badConfig(
                    file: file, reason: "\"\(key)\" must be one integer or \(n) of them (one per block), got \(r.raw[key]!)")
            }
            return v
        }
        layersPerBlock = try perBlock("layers_per_block", .one(2))
        guard let groups = try r.optional("norm_num_groups", Int.self) else { throw r.unsupported("norm_num_groups") }
        normNumGroups = groups
        normEps = try r.value("norm_eps", Float(1e-5))
        crossAttentionDim = try perBlock("cross_attention_dim", .one(1280))
        transformerLayersPerBlock = try perBlock("transformer_layers_per_block", .one(1))
        attentionHeads = try perBlock("attention_head_dim", .one(8))
        useLinearProjection = try r.value("use_linear_projection", false)
        upcastAttention = try r.value("upcast_attention", false)
        additionEmbedType = try r.optional("addition_embed_type", String.self)
        additionTimeEmbedDim = try r.optional("addition_time_embed_dim", Int.self)
        projectionClassEmbeddingsInputDim = try r.optional("projection_class_embeddings_input_dim", Int.self)
        sampleSize = try r.optional("sample_size", Int.self)

        let ranges = DiffusionConfigRanges.self
        try r.check("in_channels", inChannels, ranges.channels)
        try r.check("out_channels", outChannels, ranges.channels)
        try r.check("layers_per_block", layersPerBlock, ranges.layersPerBlock)
        try r.check("norm_num_groups", normNumGroups, 1...ranges.channels.upperBound)
        try r.check("norm_eps", normEps, ranges.epsilon, open: true)
        try r.check("freq_shift", freqShift, 0...1)
        try r.check("cross_attention_dim", crossAttentionDim, ranges.channels)
        try r.check("transformer_layers_per_block", transformerLayersPerBlock, ranges.transformerLayers)
        try r.check("attention_head_dim", attentionHeads, ranges.heads)
        if let a = additionTimeEmbedDim { try r.check("addition_time_embed_dim", a, ranges.timeEmbedding) }
        if let p = projectionClassEmbeddingsInputDim {
            try r.check("projection_class_embeddings_input_dim", p, 1...(16 * ranges.channels.upperBound))
        }
        if let size = sampleSize { try r.check("sample_size", size, ranges.sampleSize) }

        // Fields this port does not implement must keep diffusers' defaults.
        let isNull: (JSONValue) -> Bool = { $0 == .null }
        try r.require("num_attention_heads", isNull)
        try r.require("mid_block_type", { $0 == .string("UNetMidBlock2DCrossAttn") })
        try r.require("act_fn", { $0 == .string("silu") })
        try r.require("only_cross_attention", { v in
            if case let .array(a) = v { return a.allSatisfy(\.isNullOrFalse) }
            return v.isNullOrFalse
        })
        try r.require("mid_block_only_cross_attention", \.isNullOrFalse)
        try r.require("dual_cross_attention", \.isNullOrFalse)
        try r.require("class_embed_type", isNull)
        try r.require("num_class_embeds", isNull)
        try r.require("class_embeddings_concat", \.isNullOrFalse)
        try r.require("encoder_hid_dim", isNull)
        try r.require("encoder_hid_dim_type", isNull)
        try r.require("resnet_time_scale_shift", { $0 == .string("default") })
        try r.require("resnet_skip_time_act", \.isNullOrFalse)
        try r.require("resnet_out_scale_factor", { $0 == .number(1) })
        try r.require("time_embedding_type", { $0 == .string("positional") })
        try r.require("time_embedding_dim", isNull)
        try r.require("time_embedding_act_fn", isNull)
        try r.require("timestep_post_act", isNull)
        try r.require("time_cond_proj_dim", isNull)
        try r.require("conv_in_kernel", { $0 == .number(3) })
        try r.require("conv_out_kernel", { $0 == .number(3) })
        try r.require("attention_type", { $0 == .string("default") })
        try r.require("cross_attention_norm", isNull)
        try r.require("reverse_transformer_layers_per_block", isNull)
        try r.require("downsample_padding", { $0 == .number(1) })
        try r.require("mid_block_scale_factor", { $0 == .number(1) })
        try r.require("addition_embed_type", { $0 == .null || $0 == .string("text_time") })
        try r.require("down_block_types", { v in
            if case let .array(a) = v { return a.allSatisfy { if case let .string(s) = $0 { Self.downTypes.contains(s) } else { false } } }
            return false
        })
        try r.require("up_block_types", { v in
            if case let .array(a) = v { return a.allSatisfy { if case let .string(s) = $0 { Self.upTypes.contains(s) } else { false } } }
            return false
        })
        if downBlockTypes.count != n || upBlockTypes.count != n {
            throw DiffusionModelError.badConfig(
                file: file, reason: "\(n) block_out_channels but \(downBlockTypes.count) down and \(upBlockTypes.count) up block types")
        }
        if additionEmbedType == "text_time" {
            guard let a = additionTimeEmbedDim else { throw r.unsupported("addition_time_embed_dim") }
            guard let p = projectionClassEmbeddingsInputDim else { throw r.unsupported("projection_class_embeddings_input_dim") }
            // p = pooled text width + 6 time ids x a; the text part must be positive.
            if p <= 6 * a {
                throw DiffusionModelError.outOfRange(
                    file: file, field: "projection_class_embeddings_input_dim", value: "\(p)",
                    allowed: "more than 6 x addition_time_embed_dim = \(6 * a) (the pooled text embedding plus six time ids)")
            }
        }
        for (i, c) in blockOutChannels.enumerated() {
            if c % normNumGroups != 0 {
                throw DiffusionModelError.badConfig(file: file, reason: "block_out_channels[\(i)] = \(c) is not divisible by norm_num_groups \(normNumGroups)")
            }
            if normNumGroups > c {
                throw DiffusionModelError.outOfRange(file: file, field: "norm_num_groups", value: "\(normNumGroups)",
                                                     allowed: "at most block_out_channels[\(i)] = \(c)")
            }
            if c % attentionHeads[i] != 0 {
                throw DiffusionModelError.badConfig(file: file, reason: "block_out_channels[\(i)] = \(c) is not divisible by \(attentionHeads[i]) attention heads")
            }
        }
    }

    /// Channels of the time embedding (4 x block_out_channels[0]).
    public var timeEmbedDim: Int { blockOutChannels[0] * 4 }
    /// Whether the model takes SDXL's pooled text embeds and time ids.
    public var usesTextTimeEmbedding: Bool { additionEmbedType == "text_time" }
}
