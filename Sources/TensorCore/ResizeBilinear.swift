/// Source taps of one output coordinate of a bilinear resize: `value = w0 * in[i0] + w1 * in[i1]`.
struct BilinearTap {
    var i0: Int
    var i1: Int
    var w0: Float
    var w1: Float
}

/// Taps of PyTorch's `area_pixel_compute_source_index` with `align_corners=False` and an explicit
/// output size (scale = in / out): src = max(scale * (dst + 0.5) - 0.5, 0), i0 = floor(src),
/// i1 = min(i0 + 1, in - 1), w1 = src - i0. Port of ATen `UpSampleBilinear2d` index arithmetic.
func bilinearTaps(inputSize: Int, outputSize: Int) -> [BilinearTap] {
    let scale = Float(inputSize) / Float(outputSize)
    return (0..<outputSize).map { dst in
        let src = max(scale * (Float(dst) + 0.5) - 0.5, 0)
        let i0 = min(Int(src), inputSize - 1)
        let i1 = i0 < inputSize - 1 ? i0 + 1 : i0
        let w1 = src - Float(i0)
        return BilinearTap(i0: i0, i1: i1, w0: 1 - w1, w1: w1)
    }
}

/// Bilinear resize with the semantics of `torch.nn.functional.interpolate(x, size: (height, width),
/// mode="bilinear", align_corners=False)` (no antialiasing), for up- and down-sampling.
///
/// x (N,C,H,W) -> (N,C,height,width).
///
/// ```swift
/// let up = resizeBilinear(scores /*(1,1,28,28)*/, height: 224, width: 224)
/// ```
///
/// Per-axis tap tables are computed once; each plane is resized row by row. `resizeBilinearNaive`
/// evaluates the definition per output pixel and is kept for tests.
public func resizeBilinear(_ x: Tensor, height: Int, width: Int) -> Tensor {
    let (n, c, h, w) = checkResize(x, height: height, width: width)
    if h == height && w == width { return x }
    let ty = bilinearTaps(inputSize: h, outputSize: height)
    let tx = bilinearTaps(inputSize: w, outputSize: width)
    var out = Tensor(zeros: [n, c, height, width])
    // Horizontally interpolated copies of the two source rows a given output row needs.
    var rowA = [Float](repeating: 0, count: width), rowB = [Float](repeating: 0, count: width)
    x.withUnsafeBufferPointer { px in
        out.withUnsafeMutableBufferPointer { po in
            rowA.withUnsafeMutableBufferPointer { ra in
                rowB.withUnsafeMutableBufferPointer { rb in
                    tx.withUnsafeBufferPointer { txs in
                        let a = ra.baseAddress!, b = rb.baseAddress!
                        func horizontal(_ row: UnsafePointer<Float>, into r: UnsafeMutablePointer<Float>) {
                            for ox in 0..<width {
                                let t = txs[ox]
                                r[ox] = t.w0 * row[t.i0] + t.w1 * row[t.i1]
                            }
                        }
                        for plane in 0..<(n * c) {
                            let src = px.baseAddress! + plane * h * w
                            let dst = po.baseAddress! + plane * height * width
                            var loadedA = -1, loadedB = -1
                            for oy in 0..<height {
                                let t = ty[oy]
                                if loadedA != t.i0 { horizontal(src + t.i0 * w, into: a); loadedA = t.i0 }
                                if loadedB != t.i1 { horizontal(src + t.i1 * w, into: b); loadedB = t.i1 }
                                let o = dst + oy * width
                                for ox in 0..<width { o[ox] = t.w0 * a[ox] + t.w1 * b[ox] }
                            }
                        }
                    }
                }
            }
        }
    }
    return out
}

/// Per-pixel definition of `resizeBilinear` (four-tap blend); reference for tests.
public func resizeBilinearNaive(_ x: Tensor, height: Int, width: Int) -> Tensor {
    let (n, c, h, w) = checkResize(x, height: height, width: width)
    let sy = Float(h) / Float(height), sx = Float(w) / Float(width)
    var out = Tensor(zeros: [n, c, height, width])
    for b in 0..<n { for ch in 0..<c { for oy in 0..<height { for ox in 0..<width {
        let fy = max(sy * (Float(oy) + 0.5) - 0.5, 0), fx = max(sx * (Float(ox) + 0.5) - 0.5, 0)
        let y0 = min(Int(fy), h - 1), x0 = min(Int(fx), w - 1)
        let y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1)
        let ly = fy - Float(y0), lx = fx - Float(x0)
        let top = (1 - lx) * x[b, ch, y0, x0] + lx * x[b, ch, y0, x1]
        let bottom = (1 - lx) * x[b, ch, y1, x0] + lx * x[b, ch, y1, x1]
        out[b, ch, oy, ox] = (1 - ly) * top + ly * bottom
    } } } }
    return out
}

private func checkResize(_ x: Tensor, height: Int, width: Int) -> (Int, Int, Int, Int) {
    precondition(x.rank == 4, "resizeBilinear expects x (N,C,H,W), got \(x.shape)")
    precondition(height > 0 && width > 0, "resizeBilinear output size \(height)x\(width) must be positive")
    precondition(x.shape[2] > 0 && x.shape[3] > 0, "resizeBilinear input \(x.shape) has an empty plane")
    return (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
}
