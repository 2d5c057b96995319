import Foundation
import DiffusionModels
import TensorCore

// The DiffusionModels networks behind the pipeline's component protocols, and the loader of a whole model folder.

/// `CLIPTokenizer` as the pipeline's tokenizer (77 ids, start/end tokens, truncation, padding).
public struct CLIPPromptTokenizer: PromptTokenizer {
    public let tokenizer: CLIPTokenizer
    public init(_ tokenizer: CLIPTokenizer) { self.tokenizer = tokenizer }

    public func tokenize(_ text: String) throws -> TokenizedPrompt {
        let t = tokenizer.encode(text)
        let dropped = t.truncated ? max(1, tokenizer.tokenize(text).count - (tokenizer.maxLength - 2)) : 0
        return TokenizedPrompt(ids: t.ids, droppedTokens: dropped)
    }
}

/// `CLIPTextModel` (SD, SDXL encoder 1) or `CLIPTextModelWithProjection` (SDXL encoder 2).
public struct CLIPPromptEncoder: PromptTextEncoder {
    public enum Model: Sendable { case plain(CLIPTextModel), projection(CLIPTextModelWithProjection) }
    public let model: Model
    public init(_ model: Model) { self.model = model }

    public func encode(tokenIDs: [Int]) throws -> TextEncoderOutput {
        try encode(tokenIDs: tokenIDs, clipSkip: 0)
    }

    public func encode(tokenIDs: [Int], clipSkip: Int) throws -> TextEncoderOutput {
        let out: CLIPTextOutput
        let textModel: CLIPTextModel
        switch model {
        case let .plain(m): out = try m([tokenIDs], outputHiddenStates: true); textModel = m
        case let .projection(m): out = try m([tokenIDs], outputHiddenStates: true); textModel = m.textModel
        }
        let layers = out.hiddenStates.count - 1
        guard clipSkip >= 0, clipSkip + 2 <= layers + 1,
              let last = clipSkip == 0 ? out.lastHiddenState : textModel.clipSkipped(out, skip: clipSkip),
              let penultimate = out.hiddenState(-(clipSkip + 2)) else {
            throw InpaintingError.invalidArgument(
                "clip skip \(clipSkip) is out of range: the text encoder has \(layers) layers (use 0 to \(max(0, layers - 1)))")
        }
        return TextEncoderOutput(lastHiddenState: last, penultimateHiddenState: penultimate,
                                 pooled: out.textEmbeds ?? out.pooled)
    }
}

/// `UNet2DConditionModel` as the pipeline's denoiser.
public struct UNetDenoiser: InpaintingDenoiser {
    public let unet: UNet2DConditionModel
    public init(_ unet: UNet2DConditionModel) { self.unet = unet }
    public var inChannels: Int { unet.config.inChannels }

    public func predictNoise(sample: Tensor, timestep: Float, encoderHiddenStates: Tensor,
                             addedConditions: AddedConditions?) throws -> Tensor {
        try unet(sample: sample, timestep: timestep, encoderHiddenStates: encoderHiddenStates,
                 textEmbeds: addedConditions?.textEmbeds, timeIds: addedConditions?.timeIDs)
    }
}

/// `AutoencoderKL` as the pipeline's autoencoder (computed in fp32, so SDXL's `force_upcast` needs nothing).
public struct KLAutoencoder: InpaintingAutoencoder {
    public let vae: AutoencoderKL
    public init(_ vae: AutoencoderKL) { self.vae = vae }
    public var scalingFactor: Float { vae.config.scalingFactor }
    public var latentChannels: Int { vae.config.latentChannels }
    public var downscaleFactor: Int { vae.downsamplingFactor }

    public func encode(_ image: Tensor) throws -> LatentDistribution {
        let (mean, logVariance) = try vae.encode(image)
        return LatentDistribution(mean: mean, logVariance: logVariance)
    }

    public func decode(_ latents: Tensor) throws -> Tensor { try vae.decode(latents) }
}

extension InpaintingModel {
    /// Loads every component of a checked model folder: tokenizers, text encoders, UNet, VAE (weights in the
    /// folder's variant) and the scheduler (`schedulerOverride`: "euler", "ddim", "pndm", "dpm++2m" or a class name).
    ///
    /// ```swift
    /// let folder = try DiffusersModelFolder.open(URL(fileURLWithPath: "models/sdxl-inpainting"), variant: "fp16")
    /// let model = try InpaintingModel.load(folder)
    /// ```
    public static func load(_ folder: DiffusersModelFolder, schedulerOverride: String? = nil) throws -> InpaintingModel {
        let scheduler = try folder.scheduler(override: schedulerOverride)
        var tokenizers: [any PromptTokenizer] = [CLIPPromptTokenizer(try CLIPTokenizer(folder: folder.url(.tokenizer)))]
        var encoders: [any PromptTextEncoder] = []
        switch folder.family {
        case .stableDiffusion:
            encoders.append(CLIPPromptEncoder(.plain(try CLIPTextModel(folder: folder.url(.textEncoder), variant: folder.variant))))
        case .stableDiffusionXL:
            encoders.append(CLIPPromptEncoder(.plain(try CLIPTextModel(folder: folder.url(.textEncoder), variant: folder.variant))))
            tokenizers.append(CLIPPromptTokenizer(try CLIPTokenizer(folder: folder.url(.tokenizer2))))
            encoders.append(CLIPPromptEncoder(.projection(
                try CLIPTextModelWithProjection(folder: folder.url(.textEncoder2), variant: folder.variant))))
        }
        let unet = try UNet2DConditionModel(configURL: folder.url(.unet).appendingPathComponent("config.json"),
                                            weights: try folder.weights(.unet))
        let vae = try AutoencoderKL(config: try AutoencoderKLConfig(contentsOf: folder.url(.vae).appendingPathComponent("config.json")),
                                    weights: try folder.weights(.vae))
        return InpaintingModel(family: folder.family, tokenizers: tokenizers, textEncoders: encoders,
                               unet: UNetDenoiser(unet), vae: KLAutoencoder(vae), scheduler: scheduler,
                               forceZerosForEmptyPrompt: folder.forceZerosForEmptyPrompt,
                               requiresAestheticsScore: folder.requiresAestheticsScore)
    }
}
