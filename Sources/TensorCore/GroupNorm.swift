import Foundation

/// Group normalisation, as torch.nn.functional.group_norm(x, groups, weight, bias, eps), with an optional fused
/// activation (diffusers' ResnetBlock2D always follows GroupNorm with SiLU).
///
/// `x` (N, C, *spatial), `weight`/`bias` (C) or nil; statistics per (sample, group) over C/groups channels and all
/// spatial positions, accumulated in Double.
///
/// ```swift
/// let h = groupNorm(x, groups: 32, weight: g, bias: b, eps: 1e-5, activation: .silu)
/// ```
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
                      activation: Activation = .none) -> Tensor {
    precondition(x.rank >= 2, "groupNorm: input must be (N, C, ...), got \(x.shape)")
    let n = x.shape[0], c = x.shape[1]
    precondition(groups > 0 && c % groups == 0, "groupNorm: \(c) channels not divisible into \(groups) groups")
    if let weight { precondition(weight.shape == [c], "groupNorm: weight \(weight.shape) != [\(c)]") }
    if let bias { precondition(bias.shape == [c], "groupNorm: bias \(bias.shape) != [\(c)]") }
    let plane = x.count / max(1, n * c)
    let perGroup = c / groups
    var out = x
    let gamma = weight?.scalars, beta = bias?.scalars
    out.withUnsafeMutableBufferPointer { po in
        let base = po.baseAddress!
        Parallel.chunks(count: n * groups) { range in
            for ng in range {
                let sample = ng / groups, group = ng % groups
                let start = base + (sample * c + group * perGroup) * plane
                let len = perGroup * plane
                var sum = 0.0
                for i in 0..<len { sum += Double(start[i]) }
                let mean = sum / Double(len)
                var sq = 0.0
                for i in 0..<len { let d = Double(start[i]) - mean; sq += d * d }
                let inv = Float(1 / (sq / Double(len) + Double(eps)).squareRoot())
                let m = Float(mean)
                for ch in 0..<perGroup {
                    let channel = group * perGroup + ch
                    let scale = inv * (gamma?[channel] ?? 1)
                    let shift = (beta?[channel] ?? 0) - m * scale
                    let p = start + ch * plane
                    for i in 0..<plane { p[i] = p[i] * scale + shift }
                    applyActivation(activation, p, count: plane)
                }
            }
        }
    }
    return out
}
