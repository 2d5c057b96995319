import Foundation
import TensorCore

/// The fields of diffusers' `AutoencoderKL` config (vae/config.json) this port uses, with diffusers' defaults;
/// fields that would change the network must keep their defaults or loading fails naming them.
///
/// ```swift
/// let config = try AutoencoderKLConfig(contentsOf: folder.appendingPathComponent("config.json"))
/// let z = mean.scaled(by: config.scalingFactor)
/// ```
public struct AutoencoderKLConfig: Codable, Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var latentChannels: Int
    public var normNumGroups: Int
    public var scalingFactor: Float
    /// SDXL's VAE overflows in fp16; this port computes in fp32 always, so the flag needs no action.
    public var forceUpcast: Bool
    public var useQuantConv: Bool
    public var usePostQuantConv: Bool
    public var midBlockAddAttention: Bool
    public var sampleSize: Int?

    /// Reads and validates vae/config.json (every value in its `DiffusionConfigRanges` range).
    public init(contentsOf url: URL) throws {
        try self.init(reader: ConfigReader(contentsOf: url))
    }

    /// Parses and validates a config.json's bytes; `file` names it in errors (a pure entry point: no file access).
    public init(json data: Data, file: String = "vae/config.json") throws {
        try self.init(reader: ConfigReader(data: data, file: file))
    }

    /// Decodes the snake_case config.json object (e.g. through `ComponentWeights.config`).
    public init(from decoder: Decoder) throws {
        try self.init(reader: ConfigReader(raw: [String: JSONValue](from: decoder), file: "vae/config.json"))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: SnakeCaseKey.self)
        try c.encode("AutoencoderKL", forKey: .init("_class_name"))
        try c.encode(inChannels, forKey: .init("in_channels"))
        try c.encode(outChannels, forKey: .init("out_channels"))
        try c.encode(Array(repeating: "DownEncoderBlock2D", count: blockOutChannels.count), forKey: .init("down_block_types"))
        try c.encode(Array(repeating: "UpDecoderBlock2D", count: blockOutChannels.count), forKey: .init("up_block_types"))
        try c.encode(blockOutChannels, forKey: .init("block_out_channels"))
        try c.encode(layersPerBlock, forKey: .init("layers_per_block"))
        try c.encode(latentChannels, forKey: .init("latent_channels"))
        try c.encode(normNumGroups, forKey: .init("norm_num_groups"))
        try c.encode(scalingFactor, forKey: .init("scaling_factor"))
        try c.encode(forceUpcast, forKey: .init("force_upcast"))
        try c.encode(useQuantConv, forKey: .init("use_quant_conv"))
        try c.encode(usePostQuantConv, forKey: .init("use_post_quant_conv"))
        try c.encode(midBlockAddAttention, forKey: .init("mid_block_add_attention"))
        try c.encodeIfPresent(sampleSize, forKey: .init("sample_size"))
    }

    init(reader r: ConfigReader) throws {
        let file = r.file
        inChannels = try r.value("in_channels", 3)
        outChannels = try r.value("out_channels", 3)
        blockOutChannels = try r.value("block_out_channels", [64])
        layersPerBlock = try r.value("layers_per_block", 1)
        latentChannels = try r.value("latent_channels", 4)
        normNumGroups = try r.value("norm_num_groups", 32)
        scalingFactor = try r.value("scaling_factor", Float(0.18215))
        forceUpcast = try r.value("force_upcast", true)
        useQuantConv = try r.value("use_quant_conv", true)
        usePostQuantConv = try r.value("use_post_quant_conv", true)
        midBlockAddAttention = try r.value("mid_block_add_attention", true)
        sampleSize = try r.optional("sample_size", Int.self)
        let n = blockOutChannels.count
        let ranges = DiffusionConfigRanges.self
        try r.check("block_out_channels (count)", n, ranges.blocks)
        try r.check("block_out_channels", blockOutChannels, ranges.channels)
        try r.check("in_channels", inChannels, ranges.channels)
        try r.check("out_channels", outChannels, ranges.channels)
        try r.check("layers_per_block", layersPerBlock, ranges.layersPerBlock)
        try r.check("latent_channels", latentChannels, ranges.channels)
        try r.check("norm_num_groups", normNumGroups, 1...ranges.channels.upperBound)
        try r.check("scaling_factor", scalingFactor, 0...1_000, open: true)
        if let size = sampleSize { try r.check("sample_size", size, 1...InputLimits.current.maxImageSide) }
        try r.require("act_fn", { $0 == .string("silu") })
        try r.require("shift_factor", { $0 == .null })
        try r.require("latents_mean", { $0 == .null })
        try r.require("latents_std", { $0 == .null })
        try r.require("down_block_types", { v in
            if case let .array(a) = v { return a.count == n && a.allSatisfy { $0 == .string("DownEncoderBlock2D") } }
            return false
        })
        try r.require("up_block_types", { v in
            if case let .array(a) = v { return a.count == n && a.allSatisfy { $0 == .string("UpDecoderBlock2D") } }
            return false
        })
        for (i, c) in blockOutChannels.enumerated() where c % normNumGroups != 0 || normNumGroups > c {
            throw DiffusionModelError.badConfig(file: file, reason: "block_out_channels[\(i)] = \(c) is not divisible by norm_num_groups \(normNumGroups)")
        }
    }
}
