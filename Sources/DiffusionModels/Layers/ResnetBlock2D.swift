import TensorCore

/// Port of diffusers resnet.py `ResnetBlock2D` (time_embedding_norm "default", output_scale_factor 1, no
/// dropout at inference):
/// h = conv1(silu(norm1(x))) + time_emb_proj(silu(temb))[:, :, None, None]
/// out = conv2(silu(norm2(h))) + shortcut(x), shortcut = conv_shortcut (1x1) when the channel count changes.
///
/// Parameters: norm1, conv1, time_emb_proj (when `tembChannels` is set), norm2, conv2, conv_shortcut.
///
/// ```swift
/// let block = try ResnetBlock2D(w.scope("resnets.0"), inChannels: 320, outChannels: 640, tembChannels: 1280, groups: 32, eps: 1e-5)
/// let y = block(x, activatedTemb: silu(temb))
/// ```
struct ResnetBlock2D: Sendable {
    let norm1: GroupNormLayer
    let conv1: PreparedConv2d
    let timeEmbProj: LinearLayer?
    let norm2: GroupNormLayer
    let conv2: PreparedConv2d
    let convShortcut: PreparedConv2d?

    init(_ w: WeightScope, inChannels: Int, outChannels: Int, tembChannels: Int?, groups: Int, eps: Float) throws {
        norm1 = try GroupNormLayer(w.scope("norm1"), channels: inChannels, groups: groups, eps: eps)
        conv1 = try loadConv(w.scope("conv1"), inChannels: inChannels, outChannels: outChannels, kernel: 3, padding: 1)
        timeEmbProj = try tembChannels.map {
            try LinearLayer(w.scope("time_emb_proj"), inFeatures: $0, outFeatures: outChannels)
        }
        norm2 = try GroupNormLayer(w.scope("norm2"), channels: outChannels, groups: groups, eps: eps)
        conv2 = try loadConv(w.scope("conv2"), inChannels: outChannels, outChannels: outChannels, kernel: 3, padding: 1)
        convShortcut = inChannels == outChannels ? nil
            : try loadConv(w.scope("conv_shortcut"), inChannels: inChannels, outChannels: outChannels, kernel: 1)
    }

    /// x (N,Cin,H,W), activatedTemb (N,T) = silu(temb) or nil -> (N,Cout,H,W)
    func callAsFunction(_ x: Tensor, activatedTemb: Tensor?) -> Tensor {
        var h = conv1(norm1(x, activation: .silu))
        if let timeEmbProj, let activatedTemb {
            addPerChannel(&h, timeEmbProj(activatedTemb))
        }
        h = norm2(h, activation: .silu)
        let shortcut = convShortcut.map { $0(x) } ?? x
        return conv2(h, residual: shortcut)
    }
}
