import Foundation
import TensorCore

/// Port of diffusers unets/unet_2d_condition.py `UNet2DConditionModel` (inference, fp32 compute) for the Stable
/// Diffusion 1.x / 2.x and SDXL (inpainting) configurations: sinusoidal time embedding + MLP (plus SDXL's
/// "text_time" added embedding), conv_in, down blocks, cross-attention mid block, up blocks with the skips in
/// diffusers' order, GroupNorm + SiLU, conv_out. Parameter names are diffusers' own; loading checks every name
/// and shape and lists all missing and unexpected tensors in one error.
///
/// ```swift
/// let unet = try UNet2DConditionModel(config: config, weights: ComponentWeights.open(folder: unetFolder))
/// let eps = try unet(sample: latents9, timestep: 999, encoderHiddenStates: text)   // (2,9,64,64) -> (2,4,64,64)
/// ```
public final class UNet2DConditionModel: Sendable {
    public let config: UNet2DConditionConfig
    let timeEmbedding: TimestepEmbedding
    let addEmbedding: TimestepEmbedding?
    let convIn: PreparedConv2d
    let downBlocks: [DownBlock]
    let midBlock: MidBlockCrossAttn
    let upBlocks: [UpBlock]
    let convNormOut: GroupNormLayer
    let convOut: PreparedConv2d

    /// Builds the network from `config`, reading every parameter from `weights` (fp32 copies; convolutions are
    /// prepared for their fast paths here, once).
    public init(config: UNet2DConditionConfig, weights: WeightSource) throws {
        self.config = config
        // Names, shapes and sizes the config implies against what the file declares, before allocating anything.
        try config.parameterPlan.verify(against: weights)
        let loader = WeightLoader(weights)
        let w = loader.scope("")
        let c = config
        let channels = c.blockOutChannels
        let n = channels.count
        let tembDim = c.timeEmbedDim
        let groups = c.normNumGroups, eps = c.normEps

        timeEmbedding = try TimestepEmbedding(w.scope("time_embedding"), inChannels: channels[0], embedDim: tembDim)
        if c.usesTextTimeEmbedding {
            addEmbedding = try TimestepEmbedding(w.scope("add_embedding"),
                                                 inChannels: c.projectionClassEmbeddingsInputDim!, embedDim: tembDim)
        } else {
            addEmbedding = nil
        }
        convIn = try loadConv(w.scope("conv_in"), inChannels: c.inChannels, outChannels: channels[0], kernel: 3, padding: 1)

        var down: [DownBlock] = []
        var outputChannel = channels[0]
        for i in 0..<n {
            let inputChannel = outputChannel
            outputChannel = channels[i]
            down.append(try DownBlock(
                w.scope("down_blocks.\(i)"), crossAttention: c.downBlockTypes[i] == "CrossAttnDownBlock2D",
                inChannels: inputChannel, outChannels: outputChannel, layers: c.layersPerBlock[i], tembChannels: tembDim,
                addDownsample: i < n - 1, groups: groups, eps: eps, heads: c.attentionHeads[i],
                transformerLayers: c.transformerLayersPerBlock[i], contextDim: c.crossAttentionDim[i],
                linearProjection: c.useLinearProjection))
        }
        downBlocks = down

        midBlock = try MidBlockCrossAttn(
            w.scope("mid_block"), channels: channels[n - 1], tembChannels: tembDim, groups: groups, eps: eps,
            heads: c.attentionHeads[n - 1], transformerLayers: c.transformerLayersPerBlock[n - 1],
            contextDim: c.crossAttentionDim[n - 1], linearProjection: c.useLinearProjection)

        let rChannels = Array(channels.reversed())
        let rHeads = Array(c.attentionHeads.reversed())
        let rLayers = Array(c.layersPerBlock.reversed())
        let rContext = Array(c.crossAttentionDim.reversed())
        let rTransformer = Array(c.transformerLayersPerBlock.reversed())
        var up: [UpBlock] = []
        outputChannel = rChannels[0]
        for i in 0..<n {
            let prevOutput = outputChannel
            outputChannel = rChannels[i]
            let inputChannel = rChannels[min(i + 1, n - 1)]
            up.append(try UpBlock(
                w.scope("up_blocks.\(i)"), crossAttention: c.upBlockTypes[i] == "CrossAttnUpBlock2D",
                inChannels: inputChannel, prevOutputChannels: prevOutput, outChannels: outputChannel,
                layers: rLayers[i] + 1, tembChannels: tembDim, addUpsample: i < n - 1, groups: groups, eps: eps,
                heads: rHeads[i], transformerLayers: rTransformer[i], contextDim: rContext[i],
                linearProjection: c.useLinearProjection))
        }
        upBlocks = up

        convNormOut = try GroupNormLayer(w.scope("conv_norm_out"), channels: channels[0], groups: groups, eps: eps)
        convOut = try loadConv(w.scope("conv_out"), inChannels: channels[0], outChannels: c.outChannels, kernel: 3, padding: 1)
        try loader.finish()
    }

    /// Loads unet/ from a diffusers folder: config.json plus the weights `source` holds.
    public convenience init(configURL: URL, weights: WeightSource) throws {
        try self.init(config: UNet2DConditionConfig(contentsOf: configURL), weights: weights)
    }

    /// The noise (or v) prediction for `sample` at `timestep`.
    ///
    /// - sample (B, in_channels, h, w): for inpainting [noisy latents | mask | masked-image latents], 9 channels.
    /// - encoderHiddenStates (B, L, cross_attention_dim): the text encoder's hidden states.
    /// - textEmbeds (B, P) and timeIds (B, k): SDXL's pooled text embedding and size/crop ids (k = 6), required
    ///   exactly when the config's addition_embed_type is "text_time".
    /// Returns (B, out_channels, h, w).
    public func callAsFunction(sample: Tensor, timestep: Float, encoderHiddenStates: Tensor,
                               textEmbeds: Tensor? = nil, timeIds: Tensor? = nil) throws -> Tensor {
        try forward(sample: sample, timestep: timestep, encoderHiddenStates: encoderHiddenStates,
                    textEmbeds: textEmbeds, timeIds: timeIds, trace: nil)
    }

    /// The forward pass; `trace` receives block outputs under diffusers' module names ("time_embedding",
    /// "conv_in", "down_blocks.0", ..., "mid_block", "up_blocks.0", ...) as they are computed (parity tests,
    /// per-block timing).
    public func forward(sample: Tensor, timestep: Float, encoderHiddenStates: Tensor, textEmbeds: Tensor?, timeIds: Tensor?,
                 trace: ((String, Tensor) -> Void)?) throws -> Tensor {
        let c = config
        guard sample.rank == 4, sample.shape[1] == c.inChannels, sample.shape[2] > 0, sample.shape[3] > 0 else {
            throw inputError(argument: "sample", expected: "(B, \(c.inChannels), h, w)", actual: sample.shape)
        }
        let b = sample.shape[0]
        let contextDim = c.crossAttentionDim[0]
        guard encoderHiddenStates.rank == 3, encoderHiddenStates.shape[0] == b,
              c.crossAttentionDim.allSatisfy({ $0 == encoderHiddenStates.shape[2] }) else {
            throw inputError(argument: "encoderHiddenStates", expected: "(\(b), L, \(contextDim))",
                                                   actual: encoderHiddenStates.shape)
        }

        // 1. time embedding (+ SDXL's added text/time embedding), then silu once for every resnet's projection.
        var emb = timeEmbedding(timestepEmbedding(Array(repeating: timestep, count: b), dim: c.blockOutChannels[0],
                                                  flipSinToCos: c.flipSinToCos, shift: c.freqShift))
        trace?("time_embedding", emb)
        if let addEmbedding {
            let a = c.additionTimeEmbedDim!, p = c.projectionClassEmbeddingsInputDim!
            guard let timeIds, timeIds.rank == 2, timeIds.shape[0] == b else {
                throw inputError(argument: "timeIds", expected: "(\(b), 6)", actual: timeIds?.shape ?? [])
            }
            let textDim = p - timeIds.shape[1] * a
            guard let textEmbeds, textEmbeds.shape == [b, textDim] else {
                throw inputError(argument: "textEmbeds", expected: "(\(b), \(textDim))",
                                                       actual: textEmbeds?.shape ?? [])
            }
            let timeEmbeds = timestepEmbedding(timeIds.scalars, dim: a, flipSinToCos: c.flipSinToCos, shift: c.freqShift)
                .reshaped([b, -1])
            emb.add(addEmbedding(concatenate([textEmbeds, timeEmbeds], axis: 1)))
        } else if textEmbeds != nil || timeIds != nil {
            throw inputError(argument: "textEmbeds/timeIds",
                                                   expected: "nil (the config has no text_time embedding)",
                                                   actual: textEmbeds?.shape ?? timeIds?.shape ?? [])
        }
        emb.apply(.silu)

        // 2. pre-process
        var x = sample
        if c.centerInputSample {
            x.scale(by: 2)
            x.add(Tensor(repeating: -1, shape: x.shape))
        }
        x = convIn(x)
        trace?("conv_in", x)

        // 3. down
        var skips: [Tensor] = [x]
        for (i, block) in downBlocks.enumerated() {
            let (h, res) = block(x, temb: emb, context: encoderHiddenStates)
            x = h
            skips += res
            trace?("down_blocks.\(i)", x)
        }

        // 4. mid
        x = midBlock(x, temb: emb, context: encoderHiddenStates)
        trace?("mid_block", x)

        // 5. up: each block takes its resnets' count of skips from the end; the upsampler targets the size of
        // the skips the next block consumes (plain 2x unless h, w are not multiples of the total stride).
        for (i, block) in upBlocks.enumerated() {
            let remaining = skips.count - block.resnets.count
            let size = block.upsampler != nil && remaining > 0
                ? (h: skips[remaining - 1].shape[2], w: skips[remaining - 1].shape[3]) : nil
            x = block(x, skips: &skips, temb: emb, context: encoderHiddenStates, upsampleSize: size)
            trace?("up_blocks.\(i)", x)
        }

        // 6. post-process
        return convOut(convNormOut(x, activation: .silu))
    }
}
