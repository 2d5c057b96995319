/// Output size of one spatial axis of `avgPool2d` (PyTorch `ceil_mode=False`).
@inline(__always)
func avgPoolOutputSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
    (size + 2 * padding - kernel) / stride + 1
}

/// 2-D average pooling with the semantics of `torch.nn.AvgPool2d(kernel, stride, padding,
/// ceil_mode=False, count_include_pad=countIncludePad)`.
///
/// x (N,C,H,W) -> (N,C,oH,oW), oH = (H + 2p - k) / s + 1. With `countIncludePad` the divisor is the
/// window clipped to the padded input (always k*k when `ceil_mode=False`); otherwise only the
/// in-bounds cells are counted. PatchCore uses `avgPool2d(x, kernel: 3, stride: 1, padding: 1)`
/// for its 3x3 local neighbourhood aggregation.
///
/// ```swift
/// let pooled = avgPool2d(x, kernel: 3, stride: 1, padding: 1)   // same H, W as x
/// ```
///
/// Separable: a horizontal window sum per input row, then a vertical window sum per output row.
/// `avgPool2dNaive` is the direct definition, kept for tests.
public func avgPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true) -> Tensor {
    let s = stride ?? kernel
    let (n, c, h, w, oh, ow) = checkAvgPool(x, kernel: kernel, stride: s, padding: padding)
    let k = kernel, p = padding
    var out = Tensor(zeros: [n, c, oh, ow])
    // Per output column: first/last input column inside the window and the column count used by the divisor.
    var colStart = [Int](repeating: 0, count: ow), colEnd = [Int](repeating: 0, count: ow)
    var colDiv = [Float](repeating: 0, count: ow)
    for ox in 0..<ow {
        let start = ox * s - p, end = min(start + k, w + p)
        colStart[ox] = max(start, 0); colEnd[ox] = min(end, w)
        colDiv[ox] = Float(countIncludePad ? end - start : colEnd[ox] - colStart[ox])
    }
    var rowSums = [Float](repeating: 0, count: h * ow)   // horizontal window sums of one plane, (H, oW)
    x.withUnsafeBufferPointer { px in
        out.withUnsafeMutableBufferPointer { po in
            rowSums.withUnsafeMutableBufferPointer { pr in
                for plane in 0..<(n * c) {
                    let src = px.baseAddress! + plane * h * w
                    let dst = po.baseAddress! + plane * oh * ow
                    let rs = pr.baseAddress!
                    // 1. Horizontal sums: rs[y, ox] = sum_{x in window(ox)} src[y, x].
                    for y in 0..<h {
                        let row = src + y * w, outRow = rs + y * ow
                        for ox in 0..<ow {
                            var acc: Float = 0
                            for ix in colStart[ox]..<max(colStart[ox], colEnd[ox]) { acc += row[ix] }
                            outRow[ox] = acc
                        }
                    }
                    // 2. Vertical sums over the row window, divided by the window size.
                    for oy in 0..<oh {
                        let start = oy * s - p, end = min(start + k, h + p)
                        let y0 = max(start, 0), y1 = min(end, h)
                        let rowsCounted = Float(countIncludePad ? end - start : y1 - y0)
                        let o = dst + oy * ow
                        for ox in 0..<ow { o[ox] = 0 }
                        for y in y0..<max(y0, y1) {
                            let r = rs + y * ow
                            for ox in 0..<ow { o[ox] += r[ox] }
                        }
                        for ox in 0..<ow {
                            let divisor = rowsCounted * colDiv[ox]
                            o[ox] = divisor > 0 ? o[ox] / divisor : 0
                        }
                    }
                }
            }
        }
    }
    return out
}

/// Direct definition of `avgPool2d` (one window sum per output cell); reference for tests.
public func avgPool2dNaive(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true) -> Tensor {
    let s = stride ?? kernel
    let (n, c, h, w, oh, ow) = checkAvgPool(x, kernel: kernel, stride: s, padding: padding)
    var out = Tensor(zeros: [n, c, oh, ow])
    for b in 0..<n { for ch in 0..<c { for oy in 0..<oh { for ox in 0..<ow {
        let hs = oy * s - padding, ws = ox * s - padding
        let he = min(hs + kernel, h + padding), we = min(ws + kernel, w + padding)
        let poolSize = (he - hs) * (we - ws)
        let (y0, x0, y1, x1) = (max(hs, 0), max(ws, 0), min(he, h), min(we, w))
        var acc: Float = 0
        if y1 > y0 && x1 > x0 {
            for y in y0..<y1 { for xx in x0..<x1 { acc += x[b, ch, y, xx] } }
        }
        let divisor = countIncludePad ? poolSize : max(0, y1 - y0) * max(0, x1 - x0)
        out[b, ch, oy, ox] = divisor > 0 ? acc / Float(divisor) : 0
    } } } }
    return out
}

private func checkAvgPool(_ x: Tensor, kernel: Int, stride: Int, padding: Int) -> (Int, Int, Int, Int, Int, Int) {
    precondition(x.rank == 4, "avgPool2d expects x (N,C,H,W), got \(x.shape)")
    precondition(kernel > 0 && stride > 0, "avgPool2d kernel \(kernel) and stride \(stride) must be positive")
    precondition(padding >= 0 && padding <= kernel / 2,
                 "avgPool2d padding \(padding) must be in 0...kernel/2 (\(kernel / 2)), as in PyTorch")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = avgPoolOutputSize(h, kernel: kernel, stride: stride, padding: padding)
    let ow = avgPoolOutputSize(w, kernel: kernel, stride: stride, padding: padding)
    precondition(oh > 0 && ow > 0, "avgPool2d output would be empty for input \(x.shape), kernel \(kernel), padding \(padding)")
    return (n, c, h, w, oh, ow)
}
