import Foundation
import TensorCore

/// Port of diffusers autoencoders/autoencoder_kl.py `AutoencoderKL` (inference, fp32): the encoder + quant_conv
/// give the mean and log-variance of the latent Gaussian (`DiagonalGaussianDistribution`, log-variance clamped to
/// [-30, 20]); post_quant_conv + decoder map latents back to images in [-1, 1]. Latents enter the UNet multiplied
/// by `config.scalingFactor`.
///
/// ```swift
/// let vae = try AutoencoderKL(config: config, weights: ComponentWeights.open(folder: vaeFolder))
/// let (mean, logVariance) = try vae.encode(image)            // (1,3,512,512) -> (1,4,64,64) each
/// let image2 = try vae.decode(latents)                       // (1,4,64,64) -> (1,3,512,512)
/// ```
public final class AutoencoderKL: Sendable {
    public let config: AutoencoderKLConfig
    let encoder: VAEEncoder
    let decoder: VAEDecoder
    let quantConv: PreparedConv2d?
    let postQuantConv: PreparedConv2d?

    public init(config: AutoencoderKLConfig, weights: WeightSource) throws {
        self.config = config
        // Names, shapes and sizes the config implies against what the file declares, before allocating anything.
        try config.parameterPlan.verify(against: weights)
        let loader = WeightLoader(weights)
        let w = loader.scope("")
        let l = config.latentChannels
        encoder = try VAEEncoder(w.scope("encoder"), config: config)
        decoder = try VAEDecoder(w.scope("decoder"), config: config)
        quantConv = config.useQuantConv
            ? try loadConv(w.scope("quant_conv"), inChannels: 2 * l, outChannels: 2 * l, kernel: 1) : nil
        postQuantConv = config.usePostQuantConv
            ? try loadConv(w.scope("post_quant_conv"), inChannels: l, outChannels: l, kernel: 1) : nil
        try loader.finish()
    }

    /// The spatial down-sampling factor (8 for SD's VAE).
    public var downsamplingFactor: Int { 1 << (config.blockOutChannels.count - 1) }

    /// x (B, 3, H, W) in [-1, 1], H and W multiples of `downsamplingFactor` -> mean and log-variance
    /// (B, latent, H/f, W/f), unscaled (multiply samples by `config.scalingFactor` for the UNet).
    public func encode(_ x: Tensor) throws -> (mean: Tensor, logVariance: Tensor) {
        try encode(x, trace: nil)
    }

    /// `encode` with block outputs passed to `trace` ("encoder.down_blocks.0", ...) as they are computed.
    public func encode(_ x: Tensor, trace: ((String, Tensor) -> Void)?) throws -> (mean: Tensor, logVariance: Tensor) {
        let f = downsamplingFactor
        guard x.rank == 4, x.shape[1] == config.inChannels, x.shape[2] > 0, x.shape[3] > 0,
              x.shape[2] % f == 0, x.shape[3] % f == 0 else {
            throw inputError(
                argument: "image", expected: "(B, \(config.inChannels), H, W) with H, W multiples of \(f)", actual: x.shape)
        }
        var moments = encoder(x, trace: trace)
        if let quantConv { moments = quantConv(moments) }
        let (b, l) = (moments.shape[0], config.latentChannels)
        let plane = moments.shape[2] * moments.shape[3]
        // moments (B, 2L, h, w) -> mean = [:, :L], logvar = clamp([:, L:], -30, 20)
        var mean = [Float](), logVar = [Float]()
        mean.reserveCapacity(b * l * plane)
        logVar.reserveCapacity(b * l * plane)
        for n in 0..<b {
            let base = n * 2 * l * plane
            mean += moments.scalars[base..<(base + l * plane)]
            logVar += moments.scalars[(base + l * plane)..<(base + 2 * l * plane)].map { Swift.min(Swift.max($0, -30), 20) }
        }
        let shape = [b, l, moments.shape[2], moments.shape[3]]
        return (Tensor(shape: shape, scalars: mean), Tensor(shape: shape, scalars: logVar))
    }

    /// A latent sample mean + exp(0.5 logVariance) * noise (diffusers' `latent_dist.sample()` with given noise).
    public static func sample(mean: Tensor, logVariance: Tensor, noise: Tensor) -> Tensor {
        precondition(mean.shape == logVariance.shape && mean.shape == noise.shape,
                     "sample: shapes \(mean.shape), \(logVariance.shape), \(noise.shape) differ")
        var out = mean
        for i in 0..<out.count { out.scalars[i] += Foundation.exp(0.5 * logVariance.scalars[i]) * noise.scalars[i] }
        return out
    }

    /// z (B, latent, h, w), already divided by `config.scalingFactor` -> image (B, 3, h f, w f), about [-1, 1].
    public func decode(_ z: Tensor) throws -> Tensor { try decode(z, trace: nil) }

    /// `decode` with block outputs passed to `trace` ("decoder.mid_block", ...) as they are computed.
    public func decode(_ z: Tensor, trace: ((String, Tensor) -> Void)?) throws -> Tensor {
        guard z.rank == 4, z.shape[1] == config.latentChannels, z.shape[2] > 0, z.shape[3] > 0 else {
            throw inputError(argument: "latents", expected: "(B, \(config.latentChannels), h, w)",
                                                   actual: z.shape)
        }
        return decoder(postQuantConv.map { $0(z) } ?? z, trace: trace)
    }
}
