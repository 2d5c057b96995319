import Foundation

/// Numerically stable softmax of `count` floats at `p` (in place): exp(x - max) / sum, vectorised through
/// `fastExpShiftedRow` (FastMath.swift); a fully masked row (all -inf) becomes zeros.
@inline(__always)
func softmaxRow(_ p: UnsafeMutablePointer<Float>, count: Int) {
    let inv = fastExpShiftedRow(p, count: count)
    for i in 0..<count { p[i] *= inv }
}

extension Tensor {
    /// Softmax over the last dimension, as torch.softmax(x, dim=-1).
    ///
    /// ```swift
    /// let p = logits.softmaxLastDimension()
    /// ```
    public func softmaxLastDimension() -> Tensor {
        var out = self
        let c = shape.last ?? 0
        if c == 0 { return out }
        let rows = count / c
        out.withUnsafeMutableBufferPointer { po in
            let base = po.baseAddress!
            Parallel.chunks(count: rows, minChunk: Swift.max(1, 4096 / c)) { r in
                for row in r { softmaxRow(base + row * c, count: c) }
            }
        }
        return out
    }
}
