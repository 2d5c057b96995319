import CVectorMath
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
    let gamma = weight?.scalars ?? [], beta = bias?.scalars ?? []
    out.withUnsafeMutableBufferPointer { po in
        gamma.withUnsafeBufferPointer { pg in
            beta.withUnsafeBufferPointer { pb in
                let base = po.baseAddress!
                let g = weight == nil ? nil : pg.baseAddress, b = bias == nil ? nil : pb.baseAddress
                Parallel.chunks(count: rows, minChunk: max(1, 4096 / max(1, c))) { range in
                    // CVectorMath: the statistics' passes in double at the CPU's widest vectors.
                    for r in range { pc_layer_norm_row(base + r * c, c, g, b, eps) }
                }
            }
        }
    }
    return out
}
