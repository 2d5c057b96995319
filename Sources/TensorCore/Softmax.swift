import Foundation

/// Numerically stable softmax over rows of `count` floats at `p` (in place): exp(x - max) / sum.
@inline(__always)
func softmaxRow(_ p: UnsafeMutablePointer<Float>, count: Int) {
    var m = -Float.infinity
    for i in 0..<count { m = Swift.max(m, p[i]) }
    if m == -Float.infinity { for i in 0..<count { p[i] = 0 }; return }  // fully masked row
    var sum: Float = 0
    for i in 0..<count { let e = Foundation.exp(p[i] - m); p[i] = e; sum += e }
    let inv = 1 / sum
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
