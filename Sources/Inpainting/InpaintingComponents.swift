import Foundation
import TensorCore

// The networks an inpainting pipeline drives, as the loop sees them. The DiffusionModels types (CLIPTokenizer,
// CLIPTextModel(+WithProjection), UNet2DConditionModel, AutoencoderKL) conform through thin adapters; tests replay
// recorded diffusers calls through the same protocols.

/// A prompt as token ids, padded or truncated to the tokenizer's length (77 for CLIP).
public struct TokenizedPrompt: Sendable, Equatable {
    /// Exactly `maxLength` ids: start token, text tokens, end token, padding.
    public var ids: [Int]
    /// Text tokens dropped to fit (0 when the prompt fits); the pipeline turns this into a warning.
    public var droppedTokens: Int
    public init(ids: [Int], droppedTokens: Int) { self.ids = ids; self.droppedTokens = droppedTokens }
}

/// CLIP BPE tokenizer: `tokenizer(text, padding="max_length", max_length=77, truncation=True)`.
public protocol PromptTokenizer: Sendable {
    func tokenize(_ text: String) throws -> TokenizedPrompt
}

/// What a CLIP text encoder returns for one sequence.
public struct TextEncoderOutput: Sendable {
    /// (1, L, D) after the final layer norm (`last_hidden_state`).
    public var lastHiddenState: Tensor
    /// (1, L, D) `hidden_states[-2]`: the input of the last encoder layer (SDXL conditions on it).
    public var penultimateHiddenState: Tensor
    /// (1, P): `text_embeds` of `CLIPTextModelWithProjection`, `pooler_output` of `CLIPTextModel`.
    public var pooled: Tensor
    public init(lastHiddenState: Tensor, penultimateHiddenState: Tensor, pooled: Tensor) {
        self.lastHiddenState = lastHiddenState; self.penultimateHiddenState = penultimateHiddenState; self.pooled = pooled
    }
}

/// A CLIP text encoder (`CLIPTextModel` or `CLIPTextModelWithProjection`).
public protocol PromptTextEncoder: Sendable {
    func encode(tokenIDs: [Int]) throws -> TextEncoderOutput
    /// diffusers' `clip_skip` k: `lastHiddenState` = final_layer_norm(hidden_states[-(k + 1)]) (what SD
    /// conditions on), `penultimateHiddenState` = hidden_states[-(k + 2)] (SDXL); k = 0 is `encode(tokenIDs:)`.
    func encode(tokenIDs: [Int], clipSkip: Int) throws -> TextEncoderOutput
}

extension PromptTextEncoder {
    /// Encoders without hidden-state access support only k = 0.
    public func encode(tokenIDs: [Int], clipSkip: Int) throws -> TextEncoderOutput {
        guard clipSkip == 0 else { throw InpaintingError.invalidArgument("this text encoder does not support clip skip") }
        return try encode(tokenIDs: tokenIDs)
    }
}

/// SDXL's added conditioning (`added_cond_kwargs`): pooled text embeddings and micro-conditioning time ids.
public struct AddedConditions: Sendable {
    /// (B, P)
    public var textEmbeds: Tensor
    /// (B, 6)
    public var timeIDs: Tensor
    public init(textEmbeds: Tensor, timeIDs: Tensor) { self.textEmbeds = textEmbeds; self.timeIDs = timeIDs }
}

/// A 9-channel inpainting `UNet2DConditionModel`: noise prediction (`.sample`).
public protocol InpaintingDenoiser: Sendable {
    /// `unet.config.in_channels`.
    var inChannels: Int { get }
    /// sample (B, 9, h, w), encoderHiddenStates (B, L, D) -> (B, 4, h, w).
    func predictNoise(sample: Tensor, timestep: Float, encoderHiddenStates: Tensor,
                      addedConditions: AddedConditions?) throws -> Tensor
}

/// The diagonal Gaussian an `AutoencoderKL` encoder returns (`latent_dist`).
public struct LatentDistribution: Sendable {
    /// (N, 4, h, w)
    public var mean: Tensor
    /// (N, 4, h, w), before clamping.
    public var logVariance: Tensor
    public init(mean: Tensor, logVariance: Tensor) { self.mean = mean; self.logVariance = logVariance }

    /// diffusers `DiagonalGaussianDistribution.sample`: `mean + exp(0.5 * clamp(logvar, -30, 20)) * noise`.
    public func sample(noise: Tensor) throws -> Tensor {
        guard noise.shape == mean.shape else {
            throw InpaintingError.shapeMismatch(what: "VAE sampling noise", expected: mean.shape, actual: noise.shape)
        }
        guard logVariance.shape == mean.shape else {
            throw InpaintingError.shapeMismatch(what: "VAE log-variance", expected: mean.shape, actual: logVariance.shape)
        }
        var out = mean.scalars
        for i in out.indices {
            let std = Float(exp(0.5 * Double(min(max(logVariance.scalars[i], -30), 20))))
            out[i] = mean.scalars[i] + std * noise.scalars[i]
        }
        return Tensor(shape: mean.shape, scalars: out)
    }
}

/// An `AutoencoderKL`.
public protocol InpaintingAutoencoder: Sendable {
    /// `config.scaling_factor` (0.18215 SD, 0.13025 SDXL).
    var scalingFactor: Float { get }
    /// `config.latent_channels` (4).
    var latentChannels: Int { get }
    /// `2 ** (len(config.block_out_channels) - 1)` (8).
    var downscaleFactor: Int { get }
    /// image (N, 3, H, W) in [-1, 1] -> the latent distribution (N, 4, H/8, W/8).
    func encode(_ image: Tensor) throws -> LatentDistribution
    /// latents (N, 4, h, w) (already divided by the scaling factor) -> image (N, 3, 8h, 8w), about [-1, 1].
    func decode(_ latents: Tensor) throws -> Tensor
}

/// Where a noise tensor goes, in the order the pipeline asks for them.
public enum NoisePurpose: String, Sendable, CaseIterable {
    /// VAE sampling noise of the (unmasked) image, drawn only when strength < 1.
    case imageLatents = "vae_image"
    /// The initial latent noise.
    case initialLatents = "latents"
    /// VAE sampling noise of the masked image.
    case maskedImageLatents = "vae_masked_image"
}

/// Supplies the pipeline's Gaussian noise. The default is `SeededGaussianNoise`; tests feed diffusers' tensors.
public protocol NoiseSource {
    mutating func noise(shape: [Int], purpose: NoisePurpose) throws -> Tensor
}

/// Standard normal noise from `SplitMix64(seed:)` by the Box-Muller transform: the same seed gives the same
/// samples on every machine (not the same numbers as torch's generator).
///
/// ```swift
/// var noise = SeededGaussianNoise(seed: 42)
/// let eps = try noise.noise(shape: [1, 4, 128, 128], purpose: .initialLatents)
/// ```
public struct SeededGaussianNoise: NoiseSource, Sendable {
    public var rng: SplitMix64
    public init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    public mutating func noise(shape: [Int], purpose: NoisePurpose) throws -> Tensor {
        let n = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: n)
        var i = 0
        while i < n {
            // u1 in (0, 1] so log is finite.
            let u1 = 1 - rng.nextUnit(), u2 = rng.nextUnit()
            let r = (-2 * log(u1)).squareRoot()
            out[i] = Float(r * cos(2 * .pi * u2))
            if i + 1 < n { out[i + 1] = Float(r * sin(2 * .pi * u2)) }
            i += 2
        }
        return Tensor(shape: shape, scalars: out)
    }
}
