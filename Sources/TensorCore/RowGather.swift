extension Tensor {
    /// Rows `indices` of a rank-2 tensor, in that order (repeats allowed): x (N, D) -> (indices.count, D).
    ///
    /// ```swift
    /// let bank = Tensor(shape: [3, 2], scalars: [0, 1, 2, 3, 4, 5])
    /// bank.gatherRows([2, 0])   // (2, 2): [4, 5, 0, 1]
    /// ```
    public func gatherRows(_ indices: [Int]) -> Tensor {
        precondition(rank == 2, "gatherRows needs a (N, D) tensor, got \(shape)")
        let n = shape[0], d = shape[1]
        for i in indices { precondition(i >= 0 && i < n, "row \(i) out of range 0..<\(n)") }
        var out = [Float](repeating: 0, count: indices.count * d)
        if out.isEmpty { return Tensor(shape: [indices.count, d], scalars: out) }
        withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (r, i) in indices.enumerated() {
                    (dst.baseAddress! + r * d).update(from: src.baseAddress! + i * d, count: d)
                }
            }
        }
        return Tensor(shape: [indices.count, d], scalars: out)
    }

    /// The consecutive rows `range` of a rank-2 tensor: x (N, D) -> (range.count, D).
    ///
    /// ```swift
    /// let image = features.rows(i * patchesPerImage ..< (i + 1) * patchesPerImage)
    /// ```
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank == 2, "rows needs a (N, D) tensor, got \(shape)")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) out of range 0..<\(shape[0])")
        let d = shape[1]
        return Tensor(shape: [range.count, d], scalars: Array(scalars[(range.lowerBound * d)..<(range.upperBound * d)]))
    }
}
