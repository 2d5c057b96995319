import Foundation

/// Layer normalisation over the last dimension, as torch.nn.functional.layer_norm(x, [C], weight, bias, eps).
///
/// `x` (..., C), `weight`/`bias` (C) or nil. Statistics in Double so long rows lose nothing to cancellation.
///
/// ```swift
/// let y = layerNorm(h, weight: gamma, bias: beta, eps: 1e-5)
/// ```
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    let c = x.shape.last ?? 0
    if let weight { precondition(weight.shape == [c], "layerNorm: weight \(weight.shape) != [\(c)]") }
    if let bias { precondition(bias.shape == [c], "layerNorm: bias \(bias.shape) != [\(c)]") }
    var out = x
    let rows = c == 0 ? 0 : x.count / c
    let gamma = weight?.scalars, beta = bias?.scalars
    out.withUnsafeMutableBufferPointer { po in
        let base = po.baseAddress!
        Parallel.chunks(count: rows, minChunk: max(1, 4096 / max(1, c))) { range in
            for r in range {
                let row = base + r * c
                var sum = 0.0
                for i in 0..<c { sum += Double(row[i]) }
                let mean = sum / Double(c)
                var sq = 0.0
                for i in 0..<c { let d = Double(row[i]) - mean; sq += d * d }
                let inv = Float(1 / (sq / Double(c) + Double(eps)).squareRoot())
                let m = Float(mean)
                for i in 0..<c {
                    var v = (row[i] - m) * inv
                    if let gamma { v *= gamma[i] }
                    if let beta { v += beta[i] }
                    row[i] = v
                }
            }
        }
    }
    return out
}
