import TensorCore

/// Reference k-NN: every distance by direct differences in Double, full sort by (squared distance, index).
/// O(M N D) time and O(N) memory per query; kept beside the tiled `MemoryBank.nearest(to:k:)` to test it, and
/// behind Scoring's `NaiveNearestNeighbourSearch`.
///
/// ```swift
/// let (d, i) = naiveNearestNeighbours(of: queries /*(M, D)*/, in: bank /*(N, D)*/, k: 3)   // d (M, 3)
/// ```
/// - Returns: (M, min(k, N)) Euclidean distances, ascending per row, and their M * min(k, N) bank rows.
public func naiveNearestNeighbours(of queries: Tensor, in bank: Tensor, k requestedK: Int)
    -> (distances: Tensor, indices: [Int32]) {
    precondition(bank.rank == 2 && queries.rank == 2 && queries.shape[1] == bank.shape[1],
                 "queries must be (M,\(bank.shape.last ?? 0)) for a (N,D) bank, got \(queries.shape) and \(bank.shape)")
    precondition(requestedK >= 1, "k must be >= 1, got \(requestedK)")
    let m = queries.shape[0], n = bank.shape[0], d = bank.shape[1]
    let k = min(requestedK, n)
    var dist = [Float](repeating: 0, count: m * k)
    var idx = [Int32](repeating: 0, count: m * k)
    let q = queries.scalars, b = bank.scalars
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

extension MemoryBank {
    /// `naiveNearestNeighbours` over this bank: the reference for `nearest(to:k:)`.
    ///
    /// ```swift
    /// let (d, i) = bank.nearestNaive(to: queries, k: 3)
    /// ```
    public func nearestNaive(to queries: Tensor, k requestedK: Int) -> (distances: Tensor, indices: [Int32]) {
        precondition(queries.rank == 2 && queries.shape[1] == dimension,
                     "queries must be (M,\(dimension)), got \(queries.shape)")
        return naiveNearestNeighbours(of: queries, in: features, k: requestedK)
    }
}
