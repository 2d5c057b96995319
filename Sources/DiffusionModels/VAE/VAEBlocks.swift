import TensorCore

/// Port of diffusers unet_2d_blocks.py `UNetMidBlock2D` as the VAE uses it (no time embedding, eps 1e-6):
/// resnet, then (attention with GroupNorm and residual, one head over all channels; resnet).
struct VAEMidBlock: Sendable {
    let resnets: [ResnetBlock2D]
    let attention: Attention?

    init(_ w: WeightScope, channels: Int, groups: Int, addAttention: Bool) throws {
        resnets = try (0..<2).map {
            try ResnetBlock2D(w.scope("resnets.\($0)"), inChannels: channels, outChannels: channels,
                              tembChannels: nil, groups: groups, eps: 1e-6)
        }
        attention = addAttention
            ? try Attention(w.scope("attentions.0"), queryDim: channels, heads: 1, headDim: channels, qkvBias: true,
                            groupNorm: (groups, 1e-6))
            : nil
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnets[0](x, activatedTemb: nil)
        if let attention { h = attention.spatial(h) }
        return resnets[1](h, activatedTemb: nil)
    }
}

/// Port of diffusers vae.py `Encoder`: conv_in, DownEncoderBlock2D per level (resnets, then a stride-2 conv with
/// (0,1,0,1) padding except at the last level), mid block, GroupNorm + SiLU, conv_out to 2 x latent channels.
struct VAEEncoder: Sendable {
    let convIn: PreparedConv2d
    let downResnets: [[ResnetBlock2D]]
    let downsamplers: [Downsample2D?]
    let mid: VAEMidBlock
    let normOut: GroupNormLayer
    let convOut: PreparedConv2d

    init(_ w: WeightScope, config c: AutoencoderKLConfig) throws {
        let ch = c.blockOutChannels, g = c.normNumGroups
        convIn = try loadConv(w.scope("conv_in"), inChannels: c.inChannels, outChannels: ch[0], kernel: 3, padding: 1)
        var resnets: [[ResnetBlock2D]] = [], downs: [Downsample2D?] = []
        var output = ch[0]
        for i in 0..<ch.count {
            let input = output
            output = ch[i]
            let b = w.scope("down_blocks.\(i)")
            resnets.append(try (0..<c.layersPerBlock).map {
                try ResnetBlock2D(b.scope("resnets.\($0)"), inChannels: $0 == 0 ? input : output, outChannels: output,
                                  tembChannels: nil, groups: g, eps: 1e-6)
            })
            downs.append(i < ch.count - 1 ? try Downsample2D(b.scope("downsamplers.0"), channels: output, vaeStyle: true) : nil)
        }
        downResnets = resnets
        downsamplers = downs
        mid = try VAEMidBlock(w.scope("mid_block"), channels: ch[ch.count - 1], groups: g, addAttention: c.midBlockAddAttention)
        normOut = try GroupNormLayer(w.scope("conv_norm_out"), channels: ch[ch.count - 1], groups: g, eps: 1e-6)
        convOut = try loadConv(w.scope("conv_out"), inChannels: ch[ch.count - 1], outChannels: 2 * c.latentChannels,
                               kernel: 3, padding: 1)
    }

    /// x (B,3,H,W) -> moments (B, 2 latent, H/f, W/f)
    func callAsFunction(_ x: Tensor, trace: ((String, Tensor) -> Void)? = nil) -> Tensor {
        var h = convIn(x)
        trace?("encoder.conv_in", h)
        for (i, (resnets, down)) in zip(downResnets, downsamplers).enumerated() {
            for r in resnets { h = r(h, activatedTemb: nil) }
            if let down { h = down(h) }
            trace?("encoder.down_blocks.\(i)", h)
        }
        h = mid(h)
        trace?("encoder.mid_block", h)
        return convOut(normOut(h, activation: .silu))
    }
}

/// Port of diffusers vae.py `Decoder`: conv_in, mid block, UpDecoderBlock2D per level in reverse channel order
/// (layers_per_block + 1 resnets, nearest 2x + conv except at the last level), GroupNorm + SiLU, conv_out.
struct VAEDecoder: Sendable {
    let convIn: PreparedConv2d
    let mid: VAEMidBlock
    let upResnets: [[ResnetBlock2D]]
    let upsamplers: [Upsample2D?]
    let normOut: GroupNormLayer
    let convOut: PreparedConv2d

    init(_ w: WeightScope, config c: AutoencoderKLConfig) throws {
        let ch = c.blockOutChannels, g = c.normNumGroups
        let rch = Array(ch.reversed())
        convIn = try loadConv(w.scope("conv_in"), inChannels: c.latentChannels, outChannels: rch[0], kernel: 3, padding: 1)
        mid = try VAEMidBlock(w.scope("mid_block"), channels: rch[0], groups: g, addAttention: c.midBlockAddAttention)
        var resnets: [[ResnetBlock2D]] = [], ups: [Upsample2D?] = []
        var output = rch[0]
        for i in 0..<rch.count {
            let prev = output
            output = rch[i]
            let b = w.scope("up_blocks.\(i)")
            resnets.append(try (0..<(c.layersPerBlock + 1)).map {
                try ResnetBlock2D(b.scope("resnets.\($0)"), inChannels: $0 == 0 ? prev : output, outChannels: output,
                                  tembChannels: nil, groups: g, eps: 1e-6)
            })
            ups.append(i < rch.count - 1 ? try Upsample2D(b.scope("upsamplers.0"), channels: output) : nil)
        }
        upResnets = resnets
        upsamplers = ups
        normOut = try GroupNormLayer(w.scope("conv_norm_out"), channels: ch[0], groups: g, eps: 1e-6)
        convOut = try loadConv(w.scope("conv_out"), inChannels: ch[0], outChannels: c.outChannels, kernel: 3, padding: 1)
    }

    /// z (B, latent, h, w) -> (B, 3, h f, w f)
    func callAsFunction(_ z: Tensor, trace: ((String, Tensor) -> Void)? = nil) -> Tensor {
        var h = convIn(z)
        trace?("decoder.conv_in", h)
        h = mid(h)
        trace?("decoder.mid_block", h)
        for (i, (resnets, up)) in zip(upResnets, upsamplers).enumerated() {
            for r in resnets { h = r(h, activatedTemb: nil) }
            if let up { h = up(h) }
            trace?("decoder.up_blocks.\(i)", h)
        }
        return convOut(normOut(h, activation: .silu))
    }
}
