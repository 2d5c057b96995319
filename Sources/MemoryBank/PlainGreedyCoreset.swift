import TensorCore

/// Plain greedy k-centre selection, the reference for `AcceleratedGreedyCoreset`.
///
/// x (N,d) row-major. delta_i = min over selected c of ||x_i - c||^2 (squared; argmax is the same).
/// Selected points get delta = -1 so they are never picked again (matters only when the remaining
/// points are duplicates at distance 0). argmax takes the first (smallest) index on ties.
///
/// ```swift
/// let picks = PlainGreedyCoreset.select(x, start: 0, count: 100)
/// ```
public enum PlainGreedyCoreset {
    public static func select(_ x: Tensor, start: Int, count: Int) -> [Int] {
        let n = x.shape[0], d = x.shape[1]
        precondition(start >= 0 && start < n && count >= 1 && count <= n)
        var delta = [Float](repeating: .infinity, count: n)
        var picks = [start]
        picks.reserveCapacity(count)
        x.withUnsafeBufferPointer { xb in
            delta.withUnsafeMutableBufferPointer { db in
                let base = xb.baseAddress!
                var p = start
                while true {
                    db[p] = -1
                    let c = base + p * d
                    for i in 0..<n {
                        let s = squaredDistance(base + i * d, c, d)
                        if s < db[i] { db[i] = s }
                    }
                    if picks.count == count { break }
                    var best: Float = -.infinity, bestIndex = 0
                    for i in 0..<n where db[i] > best { best = db[i]; bestIndex = i }
                    p = bestIndex
                    picks.append(p)
                }
            }
        }
        return picks
    }
}
