import TensorCore

/// Ports of diffusers unet_2d_blocks.py `CrossAttnDownBlock2D` (with attentions) and `DownBlock2D` (without):
/// per layer a ResnetBlock2D then, for the cross-attention kind, a Transformer2DModel; each layer's output is a
/// skip connection, and so is the output of the stride-2 downsampler (all blocks but the last).
struct DownBlock: Sendable {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2DModel]
    let downsampler: Downsample2D?

    init(_ w: WeightScope, crossAttention: Bool, inChannels: Int, outChannels: Int, layers: Int, tembChannels: Int,
         addDownsample: Bool, groups: Int, eps: Float, heads: Int, transformerLayers: Int, contextDim: Int,
         linearProjection: Bool) throws {
        resnets = try (0..<layers).map {
            try ResnetBlock2D(w.scope("resnets.\($0)"), inChannels: $0 == 0 ? inChannels : outChannels,
                              outChannels: outChannels, tembChannels: tembChannels, groups: groups, eps: eps)
        }
        attentions = crossAttention ? try (0..<layers).map {
            try Transformer2DModel(w.scope("attentions.\($0)"), channels: outChannels, heads: heads,
                                   headDim: outChannels / heads, layers: transformerLayers, contextDim: contextDim,
                                   groups: groups, linearProjection: linearProjection)
        } : []
        downsampler = addDownsample ? try Downsample2D(w.scope("downsamplers.0"), channels: outChannels, vaeStyle: false) : nil
    }

    /// x (B,Cin,H,W) -> (output, skips in order)
    func callAsFunction(_ x: Tensor, temb: Tensor, context: Tensor) -> (Tensor, [Tensor]) {
        var h = x
        var skips: [Tensor] = []
        for (i, resnet) in resnets.enumerated() {
            h = resnet(h, activatedTemb: temb)
            if !attentions.isEmpty { h = attentions[i](h, context: context) }
            skips.append(h)
        }
        if let downsampler {
            h = downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

/// Port of diffusers unet_2d_blocks.py `UNetMidBlock2DCrossAttn`: resnet, then (transformer, resnet).
struct MidBlockCrossAttn: Sendable {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2DModel]

    init(_ w: WeightScope, channels: Int, tembChannels: Int, groups: Int, eps: Float, heads: Int,
         transformerLayers: Int, contextDim: Int, linearProjection: Bool) throws {
        resnets = try (0..<2).map {
            try ResnetBlock2D(w.scope("resnets.\($0)"), inChannels: channels, outChannels: channels,
                              tembChannels: tembChannels, groups: groups, eps: eps)
        }
        attentions = [try Transformer2DModel(w.scope("attentions.0"), channels: channels, heads: heads,
                                             headDim: channels / heads, layers: transformerLayers,
                                             contextDim: contextDim, groups: groups, linearProjection: linearProjection)]
    }

    func callAsFunction(_ x: Tensor, temb: Tensor, context: Tensor) -> Tensor {
        var h = resnets[0](x, activatedTemb: temb)
        h = attentions[0](h, context: context)
        return resnets[1](h, activatedTemb: temb)
    }
}

/// Ports of diffusers unet_2d_blocks.py `CrossAttnUpBlock2D` and `UpBlock2D`: per layer the last skip is
/// concatenated on the channels, then ResnetBlock2D (+ Transformer2DModel); nearest 2x upsample + conv after
/// (all blocks but the last).
struct UpBlock: Sendable {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2DModel]
    let upsampler: Upsample2D?

    init(_ w: WeightScope, crossAttention: Bool, inChannels: Int, prevOutputChannels: Int, outChannels: Int,
         layers: Int, tembChannels: Int, addUpsample: Bool, groups: Int, eps: Float, heads: Int,
         transformerLayers: Int, contextDim: Int, linearProjection: Bool) throws {
        resnets = try (0..<layers).map { i in
            let skipChannels = i == layers - 1 ? inChannels : outChannels
            let resnetIn = i == 0 ? prevOutputChannels : outChannels
            return try ResnetBlock2D(w.scope("resnets.\(i)"), inChannels: resnetIn + skipChannels,
                                     outChannels: outChannels, tembChannels: tembChannels, groups: groups, eps: eps)
        }
        attentions = crossAttention ? try (0..<layers).map {
            try Transformer2DModel(w.scope("attentions.\($0)"), channels: outChannels, heads: heads,
                                   headDim: outChannels / heads, layers: transformerLayers, contextDim: contextDim,
                                   groups: groups, linearProjection: linearProjection)
        } : []
        upsampler = addUpsample ? try Upsample2D(w.scope("upsamplers.0"), channels: outChannels) : nil
    }

    /// x (B,C,H,W), `skips` consumed from the end; `upsampleSize` the spatial size of the next block's skips.
    func callAsFunction(_ x: Tensor, skips: inout [Tensor], temb: Tensor, context: Tensor,
                        upsampleSize: (h: Int, w: Int)?) -> Tensor {
        var h = x
        for (i, resnet) in resnets.enumerated() {
            let skip = skips.removeLast()
            h = resnet(concatenate([h, skip], axis: 1), activatedTemb: temb)
            if !attentions.isEmpty { h = attentions[i](h, context: context) }
        }
        if let upsampler { h = upsampler(h, size: upsampleSize) }
        return h
    }
}
