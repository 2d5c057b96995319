import TensorCore

/// Port of diffusers downsampling.py `Downsample2D` with use_conv: a 3x3 stride-2 conv (`conv`).
/// The UNet's variant pads 1 on every side; the VAE encoder's (padding 0) pads (0, 1, 0, 1), i.e. one zero
/// row and column after the last, then convolves unpadded.
struct Downsample2D: Sendable {
    let conv: PreparedConv2d

    init(_ w: WeightScope, channels: Int, vaeStyle: Bool) throws {
        let weight = try w.tensor("conv.weight", shape: [channels, channels, 3, 3])
        let bias = try w.tensor("conv.bias", shape: [channels])
        let p: Conv2dParameters = vaeStyle
            ? .init(stride: (2, 2), padding: (0, 0), paddingEnd: (1, 1))
            : .init(stride: 2, padding: 1)
        conv = PreparedConv2d(weight: weight, bias: bias, p)
    }

    /// x (N,C,H,W) -> (N,C,ceil(H/2),ceil(W/2)) for the UNet variant, (N,C,H/2,W/2) for even sizes in the VAE.
    func callAsFunction(_ x: Tensor) -> Tensor { conv(x) }
}

/// Port of diffusers upsampling.py `Upsample2D` with use_conv: nearest-neighbour 2x upsampling (or to an explicit
/// size, as the UNet asks when the latent size is not a multiple of its total stride), then a 3x3 conv (`conv`).
struct Upsample2D: Sendable {
    let conv: PreparedConv2d

    init(_ w: WeightScope, channels: Int) throws {
        conv = try loadConv(w.scope("conv"), inChannels: channels, outChannels: channels, kernel: 3, padding: 1)
    }

    /// x (N,C,H,W) -> (N,C,2H,2W) or (N,C,size.h,size.w)
    func callAsFunction(_ x: Tensor, size: (h: Int, w: Int)? = nil) -> Tensor {
        let target = size ?? (x.shape[2] * 2, x.shape[3] * 2)
        return conv(upsampleNearest(x, height: target.h, width: target.w))
    }
}

/// x (N,C,H,W) -> (N,C,oH,oW), as torch.nn.functional.interpolate(mode="nearest"): source index floor(dst * in / out).
func upsampleNearest(_ x: Tensor, height oh: Int, width ow: Int) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let rows = (0..<oh).map { Swift.min(h - 1, Int(Float(h) / Float(oh) * Float($0))) }
    let cols = (0..<ow).map { Swift.min(w - 1, Int(Float(w) / Float(ow) * Float($0))) }
    let count = n * c * oh * ow
    let scalars = [Float](unsafeUninitializedCapacity: count) { po, initialized in
        x.withUnsafeBufferPointer { px in
            let src = px.baseAddress!, dst = po.baseAddress!
            rows.withUnsafeBufferPointer { ry in
                cols.withUnsafeBufferPointer { cx in
                    Parallel.chunks(count: n * c, minChunk: max(1, 16384 / max(1, oh * ow))) { range in
                        for plane in range {
                            let s = src + plane * h * w, d = dst + plane * oh * ow
                            for y in 0..<oh {
                                let srow = s + ry[y] * w, drow = d + y * ow
                                if ow == 2 * w {
                                    for xx in 0..<w { let v = srow[xx]; drow[2 * xx] = v; drow[2 * xx + 1] = v }
                                } else {
                                    for xx in 0..<ow { drow[xx] = srow[cx[xx]] }
                                }
                            }
                        }
                    }
                }
            }
        }
        initialized = count
    }
    return Tensor(shape: [n, c, oh, ow], scalars: scalars)
}
