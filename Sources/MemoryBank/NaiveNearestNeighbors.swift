import TensorCore

extension MemoryBank {
    /// Reference k-NN: every distance by direct differences in Double, full sort by (distance, index).
    /// O(M N D) time and O(N) memory per query; kept beside `nearest(to:k:)` to test it.
    ///
    /// ```swift
    /// let (d, i) = bank.nearestNaive(to: queries, k: 3)
    /// ```
    public func nearestNaive(to queries: Tensor, k requestedK: Int) -> (distances: Tensor, indices: [Int32]) {
        precondition(queries.rank == 2 && queries.shape[1] == dimension,
                     "queries must be (M,\(dimension)), got \(queries.shape)")
        precondition(requestedK >= 1, "k must be >= 1, got \(requestedK)")
        let m = queries.shape[0], n = count, d = dimension
        let k = min(requestedK, n)
        var dist = [Float](repeating: 0, count: m * k)
        var idx = [Int32](repeating: 0, count: m * k)
        let q = queries.scalars, b = features.scalars
        var all = [(Double, Int)](repeating: (0, 0), count: n)
        for r in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for c in 0..<d {
                    let diff = Double(q[r * d + c]) - Double(b[j * d + c])
                    s += diff * diff
                }
                all[j] = (s, j)
            }
            all.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            for j in 0..<k {
                dist[r * k + j] = Float(all[j].0.squareRoot())
                idx[r * k + j] = Int32(all[j].1)
            }
        }
        return (Tensor(shape: [m, k], scalars: dist), idx)
    }
}
