/// Axis permutation and the elementwise arithmetic the transformer blocks need between GEMMs.
extension Tensor {
    /// A contiguous copy with axes reordered, as torch.permute(dims).contiguous().
    ///
    /// ```swift
    /// let tokens = x.permuted([0, 2, 3, 1]).reshaped([n, h * w, c])   // (N,C,H,W) -> (N,HW,C)
    /// ```
    public func permuted(_ dims: [Int]) -> Tensor {
        precondition(dims.sorted() == Array(0..<rank), "permuted: \(dims) is not a permutation of 0..<\(rank)")
        let newShape = dims.map { shape[$0] }
        if dims == Array(0..<rank) { return self }
        let srcStrides = strides
        let inner = dims.last!
        let innerCount = newShape.last!, innerStride = srcStrides[inner]
        let outerShape = Array(newShape.dropLast())
        let outerStrides = dims.dropLast().map { srcStrides[$0] }
        let outerCount = outerShape.reduce(1, *)
        var out = Tensor(zeros: newShape)
        if count == 0 { return out }
        withUnsafeBufferPointer { ps in
            out.withUnsafeMutableBufferPointer { po in
                let src = ps.baseAddress!, dst = po.baseAddress!
                Parallel.chunks(count: outerCount, minChunk: Swift.max(1, 16384 / Swift.max(1, innerCount))) { range in
                    var index = [Int](repeating: 0, count: outerShape.count)
                    for row in range {
                        var r = row, offset = 0
                        for a in stride(from: outerShape.count - 1, through: 0, by: -1) {
                            index[a] = r % outerShape[a]; r /= outerShape[a]
                            offset += index[a] * outerStrides[a]
                        }
                        copyStrided(dst + row * innerCount, src + offset, count: innerCount, stride: innerStride)
                    }
                }
            }
        }
        return out
    }

    /// self *= factor, in place.
    public mutating func scale(by factor: Float) {
        withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            Parallel.chunks(count: p.count, minChunk: 1 << 16) { r in for i in r { base[i] *= factor } }
        }
    }

    /// self = self * other elementwise (same shape), in place.
    public mutating func multiply(by other: Tensor) {
        precondition(shape == other.shape, "multiply: shapes differ \(shape) vs \(other.shape)")
        other.withUnsafeBufferPointer { q in
            withUnsafeMutableBufferPointer { p in
                let dst = p.baseAddress!, src = q.baseAddress!
                Parallel.chunks(count: p.count, minChunk: 1 << 16) { r in for i in r { dst[i] *= src[i] } }
            }
        }
    }

    /// self += alpha * other (same shape), in place: the axpy of scheduler updates and guidance.
    public mutating func add(_ other: Tensor, times alpha: Float) {
        precondition(shape == other.shape, "add: shapes differ \(shape) vs \(other.shape)")
        other.withUnsafeBufferPointer { q in
            withUnsafeMutableBufferPointer { p in
                let dst = p.baseAddress!, src = q.baseAddress!
                Parallel.chunks(count: p.count, minChunk: 1 << 16) { r in for i in r { dst[i] += alpha * src[i] } }
            }
        }
    }

    /// Rows `range` of the first axis, as x[a:b] in torch (a copy).
    public func slice(first range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "slice \(range) out of \(shape)")
        let row = count / Swift.max(1, shape[0])
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape, scalars: Array(scalars[(range.lowerBound * row)..<(range.upperBound * row)]))
    }
}
