/// Adaptive average pooling with torch.nn.AdaptiveAvgPool2d semantics: output cell i along an axis of
/// length L averages input indices floor(i*L/out) ..< ceil((i+1)*L/out) (windows may overlap).

/// x (N,C,H,W) -> (N,C,outputHeight,outputWidth).
///
/// ```swift
/// let pooled = adaptiveAvgPool2d(features, outputHeight: 1, outputWidth: 1)   // global average pool
/// ```
public func adaptiveAvgPool2d(_ x: Tensor, outputHeight: Int, outputWidth: Int) -> Tensor {
    precondition(x.rank == 4, "adaptiveAvgPool2d expects x (N,C,H,W), got \(x.shape)")
    precondition(outputHeight > 0 && outputWidth > 0, "adaptiveAvgPool2d output size must be positive, got \(outputHeight)x\(outputWidth)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    precondition(h > 0 && w > 0, "adaptiveAvgPool2d input \(x.shape) has an empty spatial size")
    let (oh, ow) = (outputHeight, outputWidth)
    // Window bounds per output row/column.
    let ys = (0..<oh).map { i in (i * h / oh, ((i + 1) * h + oh - 1) / oh) }
    let xs = (0..<ow).map { j in (j * w / ow, ((j + 1) * w + ow - 1) / ow) }
    var out = Tensor(zeros: [n, c, oh, ow])
    x.withUnsafeBufferPointer { px in
        out.withUnsafeMutableBufferPointer { po in
            let src = px.baseAddress!, dst = po.baseAddress!
            Parallel.chunks(count: n * c, minChunk: 8) { planes in
                for pl in planes {
                    let xin = src + pl * h * w, o = dst + pl * oh * ow
                    for (oy, (y0, y1)) in ys.enumerated() {
                        for (ox, (x0, x1)) in xs.enumerated() {
                            var sum: Float = 0
                            for iy in y0..<y1 {
                                let row = xin + iy * w
                                for ix in x0..<x1 { sum += row[ix] }
                            }
                            o[oy * ow + ox] = sum / Float((y1 - y0) * (x1 - x0))
                        }
                    }
                }
            }
        }
    }
    return out
}
