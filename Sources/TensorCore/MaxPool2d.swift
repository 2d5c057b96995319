/// 2-D max pooling with torch.nn.MaxPool2d semantics (port of the ATen max_pool2d output-size rule).
///
/// Padding acts as -inf (never selected), `ceilMode` rounds the output size up but drops a last window
/// that would start inside the right/bottom padding, and NaN propagates as in torch.

/// Output length along one axis, as ATen pooling_output_shape.
@inline(__always)
func poolOutputSize(_ size: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> Int {
    let span = size + 2 * padding - (kernel - 1) - 1
    var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
    if ceilMode && (out - 1) * stride >= size + padding { out -= 1 }
    return out
}

/// x (N,C,H,W) -> (N,C,oH,oW), oH = floor((H + 2*padding - kernel) / stride) + 1 (ceil with `ceilMode`).
///
/// ```swift
/// let y = maxPool2d(x, kernel: 3, stride: 2, padding: 1)   // ResNet stem: (1,64,112,112) -> (1,64,56,56)
/// ```
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) -> Tensor {
    let s = stride ?? kernel
    precondition(x.rank == 4, "maxPool2d expects x (N,C,H,W), got \(x.shape)")
    precondition(kernel > 0 && s > 0 && padding >= 0 && padding <= kernel / 2,
                 "maxPool2d needs kernel > 0, stride > 0 and 0 <= padding <= kernel/2, got \(kernel), \(s), \(padding)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = poolOutputSize(h, kernel: kernel, stride: s, padding: padding, ceilMode: ceilMode)
    let ow = poolOutputSize(w, kernel: kernel, stride: s, padding: padding, ceilMode: ceilMode)
    precondition(oh > 0 && ow > 0, "maxPool2d output would be empty for input \(x.shape), kernel \(kernel)")
    var out = Tensor(zeros: [n, c, oh, ow])
    x.withUnsafeBufferPointer { px in
        out.withUnsafeMutableBufferPointer { po in
            let src = px.baseAddress!, dst = po.baseAddress!
            Parallel.chunks(count: n * c, minChunk: 4) { planes in
                for pl in planes {
                    let xin = src + pl * h * w, o = dst + pl * oh * ow
                    for oy in 0..<oh {
                        let y0 = Swift.max(oy * s - padding, 0), y1 = Swift.min(oy * s - padding + kernel, h)
                        for ox in 0..<ow {
                            let x0 = Swift.max(ox * s - padding, 0), x1 = Swift.min(ox * s - padding + kernel, w)
                            var m = -Float.infinity
                            for iy in y0..<y1 {
                                let row = xin + iy * w
                                for ix in x0..<x1 { let v = row[ix]; if v > m || v.isNaN { m = v } }
                            }
                            o[oy * ow + ox] = m
                        }
                    }
                }
            }
        }
    }
    return out
}
