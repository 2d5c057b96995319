/// 2-D convolution with PyTorch `nn.Conv2d` semantics (zero padding, cross-correlation).
public struct Conv2dParameters: Sendable, Equatable {
    public var stride: (h: Int, w: Int)
    public var padding: (h: Int, w: Int)
    public var dilation: (h: Int, w: Int)
    public var groups: Int

    public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        self.init(stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: groups)
    }

    public init(stride: (h: Int, w: Int), padding: (h: Int, w: Int), dilation: (h: Int, w: Int) = (1, 1), groups: Int = 1) {
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.stride == r.stride && l.padding == r.padding && l.dilation == r.dilation && l.groups == r.groups
    }

    /// Output spatial size for an input of `h` x `w` and a kernel of `kh` x `kw`.
    public func outputSize(h: Int, w: Int, kh: Int, kw: Int) -> (h: Int, w: Int) {
        let oh = (h + 2 * padding.h - dilation.h * (kh - 1) - 1) / stride.h + 1
        let ow = (w + 2 * padding.w - dilation.w * (kw - 1) - 1) / stride.w + 1
        return (oh, ow)
    }
}

/// x (N,C,H,W), weight (O,C/groups,kH,kW), bias (O) -> (N,O,oH,oW).
///
/// Lowered per image and group to im2col + sgemm: (O/g, C/g*kH*kW) x (C/g*kH*kW, oH*oW).
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, _ p: Conv2dParameters = .init()) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "conv2d expects x (N,C,H,W) and weight (O,C/g,kH,kW), got \(x.shape), \(weight.shape)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
    let g = p.groups
    precondition(c == cg * g && o % g == 0, "conv2d channels: input \(c), weight \(weight.shape), groups \(g)")
    if let bias { precondition(bias.shape == [o], "conv2d bias shape \(bias.shape) != [\(o)]") }
    let (oh, ow) = p.outputSize(h: h, w: w, kh: kh, kw: kw)
    precondition(oh > 0 && ow > 0, "conv2d output would be empty for input \(x.shape), kernel \(weight.shape)")
    let og = o / g
    let kdim = cg * kh * kw
    let plane = oh * ow
    var out = Tensor(zeros: [n, o, oh, ow])
    var cols = [Float](repeating: 0, count: kdim * plane)
    x.withUnsafeBufferPointer { px in
        weight.withUnsafeBufferPointer { pw in
            out.withUnsafeMutableBufferPointer { po in
                cols.withUnsafeMutableBufferPointer { pc in
                    for b in 0..<n {
                        for gi in 0..<g {
                            let xin = px.baseAddress! + (b * c + gi * cg) * h * w
                            im2col(xin, channels: cg, h: h, w: w, kh: kh, kw: kw, p: p, oh: oh, ow: ow, cols: pc.baseAddress!)
                            sgemm(m: og, n: plane, k: kdim,
                                  a: pw.baseAddress! + gi * og * kdim, lda: kdim,
                                  b: pc.baseAddress!, ldb: plane,
                                  c: po.baseAddress! + (b * o + gi * og) * plane, ldc: plane)
                        }
                    }
                    if let bias {
                        bias.withUnsafeBufferPointer { pb in
                            for b in 0..<n {
                                for oc in 0..<o {
                                    let base = po.baseAddress! + (b * o + oc) * plane
                                    let v = pb[oc]
                                    for i in 0..<plane { base[i] += v }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return out
}

/// x (C,H,W) -> cols (C*kH*kW, oH*oW); out-of-range taps read as zero.
@inline(__always)
func im2col(_ x: UnsafePointer<Float>, channels: Int, h: Int, w: Int, kh: Int, kw: Int,
            p: Conv2dParameters, oh: Int, ow: Int, cols: UnsafeMutablePointer<Float>) {
    var row = 0
    for ch in 0..<channels {
        let plane = x + ch * h * w
        for ki in 0..<kh {
            for kj in 0..<kw {
                let dst = cols + row * oh * ow
                for oy in 0..<oh {
                    let iy = oy * p.stride.h - p.padding.h + ki * p.dilation.h
                    let d = dst + oy * ow
                    if iy < 0 || iy >= h {
                        for ox in 0..<ow { d[ox] = 0 }
                        continue
                    }
                    let src = plane + iy * w
                    for ox in 0..<ow {
                        let ix = ox * p.stride.w - p.padding.w + kj * p.dilation.w
                        d[ox] = (ix >= 0 && ix < w) ? src[ix] : 0
                    }
                }
                row += 1
            }
        }
    }
}
