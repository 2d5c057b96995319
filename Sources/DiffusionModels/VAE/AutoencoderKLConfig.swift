import Foundation

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

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DiffusionModelError.invalidConfig(file: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        try self.init(json: data, file: url.path)
    }

    public init(json data: Data, file: String = "vae/config.json") throws {
        let r = try ConfigReader(data: data, file: file)
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
        for (i, c) in blockOutChannels.enumerated() where c % normNumGroups != 0 {
            throw DiffusionModelError.invalidConfig(file: file, reason: "block_out_channels[\(i)] = \(c) is not divisible by norm_num_groups \(normNumGroups)")
        }
    }
}
