// LOCAL KERNELS (temporary): private stand-ins for TensorCore's `foldBatchNorm` and `maxPool2d`, which another helper
// is adding to TensorCore in parallel. At merge, swap the call sites for the TensorCore versions and delete this file.
import Foundation
import TensorCore

/// Folds eval-mode BatchNorm into the preceding convolution, from the formula
/// BN(y) = gamma * (y - mean) / sqrt(var + eps) + beta, with y = W * x (+ b), so
/// W'[o] = W[o] * s[o], b'[o] = (b[o] - mean[o]) * s[o] + beta[o], where s = gamma / sqrt(var + eps).
///
/// weight (O, ...) flattened row-major; gamma, beta, mean, variance (O). Returns (weight', bias').
/// The arithmetic runs in Double so the folded weights round once.
func localFoldBatchNorm(weight: [Float], bias: [Float]?, outChannels o: Int,
                        gamma: [Float], beta: [Float], mean: [Float], variance: [Float],
                        eps: Double) -> (weight: [Float], bias: [Float]) {
    let per = weight.count / o
    var w = weight
    var b = [Float](repeating: 0, count: o)
    for oc in 0..<o {
        let s = Double(gamma[oc]) / (Double(variance[oc]) + eps).squareRoot()
        for i in 0..<per { w[oc * per + i] = Float(Double(weight[oc * per + i]) * s) }
        let b0 = Double(bias?[oc] ?? 0)
        b[oc] = Float((b0 - Double(mean[oc])) * s + Double(beta[oc]))
    }
    return (w, b)
}

/// 3x3 max pool, stride 2, padding 1 (padding never wins), as torch.nn.MaxPool2d(3, 2, 1) in torchvision ResNet's stem.
/// x (N,C,H,W) -> (N,C,oH,oW) with oH = (H + 2 - 3) / 2 + 1.
func localMaxPool3x3s2(_ x: Tensor) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1
    let planes = n * c
    let out = [Float](unsafeUninitializedCapacity: planes * oh * ow) { po, initialized in
        x.withUnsafeBufferPointer { px in
            let src = px.baseAddress!, dst = po.baseAddress!
            parallelFor(planes, work: h * w) { p in
                let xin = src + p * h * w
                let o = dst + p * oh * ow
                for oy in 0..<oh {
                    let y0 = max(0, 2 * oy - 1), y1 = min(h - 1, 2 * oy + 1)
                    for ox in 0..<ow {
                        let x0 = max(0, 2 * ox - 1), x1 = min(w - 1, 2 * ox + 1)
                        var m = -Float.infinity
                        for iy in y0...y1 {
                            for ix in x0...x1 { m = max(m, xin[iy * w + ix]) }
                        }
                        o[oy * ow + ox] = m
                    }
                }
            }
        }
        initialized = planes * oh * ow
    }
    return Tensor(shape: [n, c, oh, ow], scalars: out)
}

/// Runs `body(i)` for i in 0..<count, split over `ComputeThreads.current` workers when the total work is large
/// enough to pay for the dispatch (`work` is a rough per-item cost in scalar operations).
func parallelFor(_ count: Int, work: Int, _ body: (Int) -> Void) {
    let threads = max(1, ComputeThreads.current)
    if threads == 1 || count < 2 || count * work < 32_768 {
        for i in 0..<count { body(i) }
        return
    }
    let chunks = min(threads, count)
    withoutActuallyEscaping(body) { body in
        // Each worker touches disjoint items; the closure does not outlive this call.
        nonisolated(unsafe) let work = body
        DispatchQueue.concurrentPerform(iterations: chunks) { t in
            let lo = count * t / chunks, hi = count * (t + 1) / chunks
            for i in lo..<hi { work(i) }
        }
    }
}
