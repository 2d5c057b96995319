/// Reference (naive) 2-D convolution, kept beside the fast paths in Conv2d.swift for tests.

/// Naive reference for `conv2d`: x (N,C,H,W), weight (O,C/groups,kH,kW), bias (O) -> (N,O,oH,oW).
///
/// Lowered per image and group to a plain im2col + sgemm: (O/g, C/g*kH*kW) x (C/g*kH*kW, oH*oW).
/// Kept simple on purpose; the fast paths in `conv2d` are tested against it.
public func conv2dReference(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, _ p: Conv2dParameters = .init()) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "conv2dReference expects x (N,C,H,W) and weight (O,C/g,kH,kW), got \(x.shape), \(weight.shape)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
    let g = p.groups
    precondition(c == cg * g && o % g == 0, "conv2dReference channels: input \(c), weight \(weight.shape), groups \(g)")
    if let bias { precondition(bias.shape == [o], "conv2dReference bias shape \(bias.shape) != [\(o)]") }
    let (oh, ow) = p.outputSize(h: h, w: w, kh: kh, kw: kw)
    precondition(oh > 0 && ow > 0, "conv2dReference output would be empty for input \(x.shape), kernel \(weight.shape)")
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
                            im2colReference(xin, channels: cg, h: h, w: w, kh: kh, kw: kw, p: p, oh: oh, ow: ow, cols: pc.baseAddress!)
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
func im2colReference(_ x: UnsafePointer<Float>, channels: Int, h: Int, w: Int, kh: Int, kw: Int,
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
