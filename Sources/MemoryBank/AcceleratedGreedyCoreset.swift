import Dispatch
import TensorCore

/// Exact accelerated greedy k-centre selection: the same picks as `PlainGreedyCoreset`, far less work.
///
/// Notation: x_i (N,d); centres c_0..c_{t-1} selected so far; every point belongs to the cluster j of the
/// centre that last lowered its delta_i = ||x_i - c_j||^2 (its current minimum). r_j = max sqrt(delta_i) over
/// cluster j. When a new centre c is added, a point x_i of cluster j can only get closer to c than to c_j if
/// ||c - c_j|| < 2 ||x_i - c_j|| (triangle inequality: ||x_i - c|| >= ||c - c_j|| - ||x_i - c_j||). So
///  * the whole cluster j is skipped when ||c - c_j||^2 > 4 r_j^2 (1 + slack),
///  * before computing ||c - c_j|| at all, the pivot bound |d(c, p_j) - d(c_j, p_j)| (p_j = c_j's nearest of
///    the first 256 centres, both distances stored) is tried in its place, widened by rounding slack,
///  * inside a visited cluster, a point is skipped when ||c - c_j||^2 > 4 delta_i (1 + slack),
/// and only the remaining points get a distance. The relative `slack` (1e-3) covers float rounding, so a
/// skipped point always has a computed distance >= its delta, i.e. the plain algorithm would not update it
/// either; visited points use the same `squaredDistance` as the plain algorithm, so every delta_i is
/// bit-identical and so is every argmax (max delta, smallest index on ties). Points that get closer to c move
/// to the new cluster; each cluster keeps its radius and farthest point, so the next pick is an argmax over
/// clusters, not over N. Clusters are split into chunks of similar size for `threads` workers.
/// Every point that survives the triangle tests first meets `RotatedLowerBounds`: a certified lower bound on
/// ||x_i - c||^2 from the leading principal coordinates (16 floats, then 16 more, ...), which on patch features
/// rules out ~99% of the remaining points before any exact distance. Where the triangle tests fail (high
/// intrinsic dimension: real Magnetic Tile banks, i.i.d. Gaussian data) a dense pass in index order replaces the
/// cluster walk: it streams int8 codes of the first 32 rotated coordinates (32 bytes a point, mostly from the L3
/// cache) and the thresholds, and only its survivors meet the float bound and the exact distance. The route is
/// chosen per pick by the work and the time the last pruned and dense picks took (either gives the same picks).
enum AcceleratedGreedyCoreset {
    /// Factor (1 + slack) on the pruning tests (squared distances).
    static let pruneFactor: Float = 4 * 1.001
    /// The first P centres are pivots: every centre stores its nearest pivot and the distance to it, so
    /// |d(c, pivot_j) - d(c_j, pivot_j)| <= d(c, c_j) rules most clusters out without a D-dimensional distance.
    static let pivotCount = 256
    /// Relative error allowed on each computed distance in the pivot bound (float32, direct differences).
    static let pivotSlack: Float = 2e-5

    static func select(_ x: Tensor, start: Int, count: Int, threads: Int,
                       progress: ((Int, Int) -> Void)?) throws -> [Int] {
        let n = x.shape[0], d = x.shape[1]
        precondition(start >= 0 && start < n && count >= 1 && count <= n)
        let s = try x.withUnsafeBufferPointer { xb in
            if Task.isCancelled { throw CancellationError() }
            return State(n: n, d: d, capacity: count,
                         bounds: RotatedLowerBounds(xb.baseAddress!, n: n, d: d))
        }
        defer { s.deallocate() }
        var picks = [start]
        picks.reserveCapacity(count)
        let progressStep = max(1, count / 100)

        try x.withUnsafeBufferPointer { xb in
            let base = xb.baseAddress!
            // First centre: every point is in cluster 0.
            s.copyCentre(base + start * d, slot: 0)
            s.bounds.loadCentre(start)
            s.fillFirstCluster(base, start: start, threads: threads)
            var (_, bestFar) = s.recomputeExtent(0)
            s.clusterCount = 1
            while picks.count < count {
                // Every pick: one atomic load, and the first picks over a large bank take tens of ms each.
                if Task.isCancelled { throw CancellationError() }
                let p = Int(bestFar)
                picks.append(p)
                s.delta[p] = -1
                s.bounds.setThreshold(p, delta: -1)
                s.bounds.loadCentre(p)
                let slot = picks.count - 1
                s.copyCentre(base + p * d, slot: slot)
                (_, bestFar) = s.addCentre(slot: slot, forced: Int(s.assign[p]), x: base, threads: threads)
                if let progress, picks.count % progressStep == 0 || picks.count == count {
                    progress(picks.count, count)
                }
            }
        }
        if let progress, count == 1 { progress(1, 1) }
        return picks
    }

    /// All mutable state in raw buffers, so workers can update disjoint clusters without copy-on-write.
    final class State: @unchecked Sendable {
        let n: Int, d: Int
        let delta: UnsafeMutablePointer<Float>              // (N) current min squared distance; -1 once selected
        let assign: UnsafeMutablePointer<Int32>             // (N) cluster of each point
        let centres: UnsafeMutablePointer<Float>            // (count, d) copies of the selected rows
        let members: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>  // per cluster: member indices
        let sizes: UnsafeMutablePointer<Int>
        let capacities: UnsafeMutablePointer<Int>
        let radius2: UnsafeMutablePointer<Float>            // max delta in the cluster (-inf if empty)
        let far: UnsafeMutablePointer<Int32>                // argmax of delta, smallest index on ties
        let moved: UnsafeMutablePointer<Int32>              // (N) scratch: points moving to the new cluster
        let pivotOf: UnsafeMutablePointer<Int32>            // per centre: nearest pivot (one of the first P centres)
        let pivotDist: UnsafeMutablePointer<Float>          // per centre: distance to that pivot
        let pivotDistNew: UnsafeMutablePointer<Float>       // (P) distances of the newest centre to the pivots
        let bounds: RotatedLowerBounds                      // exact lower bounds that skip most distances
        var clusterCount = 0
        var lastVisited = Int.max                            // points scanned by the previous pruned pick
        var lastComputed = 0                                 // distances computed by the previous pruned pick
        var nextPrunedTry = 0                                // picks before this one take the dense route
        var retryInterval = 16
        var denseNanos: Double?                              // moving average of a dense pick's time

        init(n: Int, d: Int, capacity: Int, bounds: RotatedLowerBounds) {
            self.n = n; self.d = d; self.bounds = bounds
            delta = .allocate(capacity: n)
            assign = .allocate(capacity: n)
            centres = .allocate(capacity: capacity * d)
            members = .allocate(capacity: capacity)
            members.initialize(repeating: nil, count: capacity)
            sizes = .allocate(capacity: capacity)
            capacities = .allocate(capacity: capacity)
            radius2 = .allocate(capacity: capacity)
            far = .allocate(capacity: capacity)
            moved = .allocate(capacity: (n + 15) / 16 * 16)
            pivotOf = .allocate(capacity: capacity)
            pivotDist = .allocate(capacity: capacity)
            pivotDistNew = .allocate(capacity: AcceleratedGreedyCoreset.pivotCount)
            pivotOf[0] = 0; pivotDist[0] = 0
        }

        func deallocate() {
            for j in 0..<clusterCount { members[j]?.deallocate() }
            delta.deallocate(); assign.deallocate(); centres.deallocate(); members.deallocate()
            sizes.deallocate(); capacities.deallocate(); radius2.deallocate(); far.deallocate(); moved.deallocate()
            pivotOf.deallocate(); pivotDist.deallocate(); pivotDistNew.deallocate()
            bounds.deallocate()
        }

        func copyCentre(_ row: UnsafePointer<Float>, slot: Int) {
            (centres + slot * d).update(from: row, count: d)
        }

        func fillFirstCluster(_ x: UnsafePointer<Float>, start: Int, threads: Int) {
            let c = UnsafePointer(centres)
            let buf = UnsafeMutablePointer<Int32>.allocate(capacity: n)
            let parts = threads > 1 && n >= 8192 ? threads * 4 : 1
            let delta = self.delta, assign = self.assign, n = self.n, d = self.d, bounds = self.bounds
            Parallel.forEach(iterations: parts) { part in
                let lo = n * part / parts, hi = n * (part + 1) / parts
                for i in lo..<hi {
                    delta[i] = squaredDistance(x + i * d, c, d)
                    bounds.setThreshold(i, delta: delta[i])
                    assign[i] = 0
                    buf[i] = Int32(i)
                }
            }
            delta[start] = -1
            bounds.setThreshold(start, delta: -1)
            members[0] = buf; sizes[0] = n; capacities[0] = n
        }

        /// Recomputes radius2/far of cluster j from its members' delta.
        @discardableResult
        func recomputeExtent(_ j: Int) -> (Float, Int32) {
            var r: Float = -.infinity, f = Int32.max
            if let m = members[j] {
                for k in 0..<sizes[j] {
                    let i = m[k], v = delta[Int(i)]
                    if v > r || (v == r && i < f) { r = v; f = i }
                }
            }
            radius2[j] = r; far[j] = f
            return (r, f)
        }

        /// Adds centre `slot` (already copied), updates clusters 0..<slot, builds cluster `slot`;
        /// returns the global (max delta, its smallest index). `forced` is the cluster that held the new
        /// centre: its extent is stale (the centre's delta became -1), so it is always rescanned.
        func addCentre(slot: Int, forced: Int, x: UnsafePointer<Float>, threads: Int) -> (Float, Int32) {
            let t = slot
            // Distances of the new centre to the pivots (the first P centres), and its own nearest pivot.
            let pivots = min(t, AcceleratedGreedyCoreset.pivotCount)
            let cNew = UnsafePointer(centres + t * d)
            var nearestPivot = Int32(t), nearestPivotDist: Float = 0
            if t >= AcceleratedGreedyCoreset.pivotCount { nearestPivotDist = .infinity }
            for q in 0..<pivots {
                let dq = squaredDistance(cNew, centres + q * d, d).squareRoot()
                pivotDistNew[q] = dq
                if t >= AcceleratedGreedyCoreset.pivotCount && dq < nearestPivotDist { nearestPivotDist = dq; nearestPivot = Int32(q) }
            }
            // When pruning is not paying off (the last pruned pick had to bound over a quarter of the points
            // individually, or took longer than the dense passes take), a dense pass in index order is cheaper;
            // the pruned route is tried again after 16 picks, then after twice as many each time it fails again
            // (at most 256). Both routes give the same deltas, so the timing only decides the speed.
            let started = DispatchTime.now().uptimeNanoseconds
            if t < nextPrunedTry {
                pivotOf[t] = nearestPivot; pivotDist[t] = nearestPivotDist
                let result = addCentreDense(slot: t, forced: forced, x: x, threads: threads)
                let took = Double(DispatchTime.now().uptimeNanoseconds - started)
                denseNanos = denseNanos.map { 0.75 * $0 + 0.25 * took } ?? took
                return result
            }
            // Split clusters 0..<t into chunks of similar work (members of clusters that may be visited).
            var total = 0
            for j in 0..<t where radius2[j] > 0 || j == forced { total += sizes[j] }
            // Threads pay off only while picks visit many points (early picks); later ones are short and a
            // fork/join per pick costs more than it saves, so go parallel only after a busy pick.
            let parts = threads > 1 && total >= 16384 && lastVisited >= 65536 ? threads * 4 : 1
            var bounds = [0]
            var offsets = [0]                                  // start of each chunk's moved segment
            if parts > 1 {
                let target = total / parts + 1
                var acc = 0, memberAcc = 0
                for j in 0..<t {
                    if radius2[j] > 0 || j == forced { acc += sizes[j] }
                    memberAcc += sizes[j]
                    if acc >= target && bounds.count < parts {
                        bounds.append(j + 1); offsets.append(memberAcc); acc = 0
                    }
                }
            }
            bounds.append(t)
            let chunks = bounds.count - 1
            var movedCounts = [Int](repeating: 0, count: chunks)
            var bestR = [Float](repeating: -.infinity, count: chunks)
            var bestF = [Int32](repeating: Int32.max, count: chunks)
            var visited = [Int](repeating: 0, count: chunks)
            var computed = [Int](repeating: 0, count: chunks)
            movedCounts.withUnsafeMutableBufferPointer { mc in
                bestR.withUnsafeMutableBufferPointer { br in
                    bestF.withUnsafeMutableBufferPointer { bf in
                    visited.withUnsafeMutableBufferPointer { vis in
                    computed.withUnsafeMutableBufferPointer { comp in
                        let body = { (chunk: Int) in
                            var r: Float = -.infinity, f = Int32.max, seen = 0, work = 0
                            var out = self.moved + offsets[chunk]
                            for j in bounds[chunk]..<bounds[chunk + 1] {
                                if self.radius2[j] > 0 || j == forced {
                                    seen += self.sizes[j]
                                    out = self.update(cluster: j, centreSlot: t, forced: j == forced, x: x, moved: out,
                                                      computed: &work)
                                }
                                let v = self.radius2[j], i = self.far[j]
                                if v > r || (v == r && i < f) { r = v; f = i }
                            }
                            mc[chunk] = out - (self.moved + offsets[chunk])
                            br[chunk] = r; bf[chunk] = f
                            vis[chunk] = seen
                            comp[chunk] = work
                        }
                        Parallel.forEach(iterations: chunks, body)
                    }
                    }
                    }
                }
            }
            lastVisited = visited.reduce(0, +)
            lastComputed = computed.reduce(0, +)
            let took = Double(DispatchTime.now().uptimeNanoseconds - started)
            if lastComputed > n / 4 || denseNanos.map({ took > $0 }) == true {
                nextPrunedTry = t + retryInterval
                retryInterval = min(256, retryInterval * 2)
            } else {
                retryInterval = 16
            }
            // Build the new cluster from the moved segments, in chunk order.
            let newSize = movedCounts.reduce(0, +)
            let buf = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, newSize))
            var w = 0
            for chunk in 0..<chunks {
                (buf + w).update(from: moved + offsets[chunk], count: movedCounts[chunk])
                w += movedCounts[chunk]
            }
            for k in 0..<newSize { assign[Int(buf[k])] = Int32(t) }
            members[t] = buf; sizes[t] = newSize; capacities[t] = max(1, newSize)
            pivotOf[t] = nearestPivot; pivotDist[t] = nearestPivotDist
            clusterCount = t + 1
            var (r, f) = recomputeExtent(t)
            for chunk in 0..<chunks where bestR[chunk] > r || (bestR[chunk] == r && bestF[chunk] < f) {
                r = bestR[chunk]; f = bestF[chunk]
            }
            return (r, f)
        }

        /// Dense variant of `addCentre`: every point is tested in index order (rotated lower bound, then the exact
        /// distance of the plain algorithm where the bound cannot decide); movers go to the new cluster, and only
        /// the clusters that lost points (and `forced`, which held the new centre) are compacted and rescanned.
        func addCentreDense(slot t: Int, forced: Int, x: UnsafePointer<Float>, threads: Int) -> (Float, Int32) {
            let c = UnsafePointer(centres + t * d)
            let parts = threads > 1 && n >= 16384 ? threads * 4 : 1
            let delta = self.delta, d = self.d, bounds = self.bounds, moved = self.moved
            let blocks = bounds.paddedCount / 16
            var counts = [Int](repeating: 0, count: parts)
            counts.withUnsafeMutableBufferPointer { cb in
                Parallel.forEach(iterations: parts) { part in
                    // Survivors of the int8 bound go to moved[lo...]; the movers among them are written back
                    // over that list (a mover's slot is never past the survivor being read).
                    let firstBlock = blocks * part / parts
                    let lo = firstBlock * 16
                    let survivors = bounds.survivors(blocks: firstBlock, blocks * (part + 1) / parts, into: moved + lo)
                    var w = lo
                    for k in lo..<(lo + survivors) {
                        let i = Int(moved[k])
                        if bounds.canSkip(i) { continue }
                        let s = squaredDistance(x + i * d, c, d)
                        if s < delta[i] {
                            delta[i] = s
                            bounds.setThreshold(i, delta: s)
                            moved[w] = Int32(i); w += 1
                        }
                    }
                    cb[part] = w - lo
                }
            }
            // Movers in index order; mark the clusters they leave.
            var dirty = [Bool](repeating: false, count: t)
            if forced < t { dirty[forced] = true }
            var newSize = 0
            for part in 0..<parts {
                let lo = blocks * part / parts * 16
                for k in 0..<counts[part] {
                    let i = Int(moved[lo + k])
                    dirty[Int(assign[i])] = true
                    assign[i] = Int32(t)
                    moved[newSize] = Int32(i); newSize += 1
                }
            }
            var r: Float = -.infinity, f = Int32.max
            for j in 0..<t {
                if dirty[j], let m = members[j] {
                    var w = 0
                    for k in 0..<sizes[j] where assign[Int(m[k])] == Int32(j) { m[w] = m[k]; w += 1 }
                    sizes[j] = w
                    recomputeExtent(j)
                }
                let v = radius2[j], i = far[j]
                if v > r || (v == r && i < f) { r = v; f = i }
            }
            let buf = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, newSize))
            buf.update(from: moved, count: newSize)
            members[t] = buf; sizes[t] = newSize; capacities[t] = max(1, newSize)
            clusterCount = t + 1
            let (v, i) = recomputeExtent(t)
            if v > r || (v == r && i < f) { r = v; f = i }
            return (r, f)
        }

        /// Visits cluster j for the new centre in `centreSlot`; appends movers at `moved`, returns the new end.
        @inline(__always)
        func update(cluster j: Int, centreSlot: Int, forced: Bool, x: UnsafePointer<Float>,
                    moved: UnsafeMutablePointer<Int32>, computed: inout Int) -> UnsafeMutablePointer<Int32> {
            let d = self.d
            let c = UnsafePointer(centres + centreSlot * d)
            let factor = AcceleratedGreedyCoreset.pruneFactor
            if !forced {
                // Pivot lower bound on ||c - c_j||, widened by the rounding of both distances.
                let a = pivotDistNew[Int(pivotOf[j])], b = pivotDist[j]
                let lower = abs(a - b) - AcceleratedGreedyCoreset.pivotSlack * (a + b)
                if lower > 0 && lower * lower > factor * radius2[j] { return moved }
            }
            let dcc2 = squaredDistance(c, centres + j * d, d)          // ||c - c_j||^2
            if !forced && dcc2 > factor * radius2[j] { return moved }  // whole cluster cannot improve
            guard let m = members[j] else { return moved }
            var out = moved
            var w = 0
            var r: Float = -.infinity, f = Int32.max
            let size = sizes[j]
            for k in 0..<size {
                let i = m[k]
                let di = delta[Int(i)]
                if !(dcc2 > factor * di) {
                    computed += 1
                    if !bounds.canSkip(Int(i)), case let s = squaredDistance(x + Int(i) * d, c, d), s < di {
                        delta[Int(i)] = s
                        bounds.setThreshold(Int(i), delta: s)
                        out.pointee = i; out += 1
                        continue
                    }
                }
                m[w] = i; w += 1
                if di > r || (di == r && i < f) { r = di; f = i }
            }
            sizes[j] = w; radius2[j] = r; far[j] = f
            // Give memory back when a cluster has shrunk to a quarter of its buffer.
            if w * 4 < capacities[j] && capacities[j] > 64 {
                let smaller = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, w))
                smaller.update(from: m, count: w)
                m.deallocate()
                members[j] = smaller; capacities[j] = max(1, w)
            }
            return out
        }
    }
}
