import TensorCore

// Exact k-nearest-neighbour search of query rows against the memory bank.
//
// Notation: queries q_m (M,D), bank rows b_n (N,D).
//   ||q - b||^2 = ||q||^2 - 2 q.b + ||b||^2
// The -2 q.b terms come from OpenBLAS sgemm in tiles of at most `tileBytes` (never an M x N matrix of the
// whole bank); ||b||^2 is precomputed once per bank. Per query row we keep the k smallest
// s_n = ||b_n||^2 - 2 q.b_n (k = 1: a running SIMD min/argmin; small k: a sorted insertion list behind a
// vector threshold test). Ties keep the smaller bank index. Finally the k chosen rows' distances are
// recomputed by direct differences, so a bank member queried against the bank gets exactly 0, and the k
// results are sorted by (distance, index). Selection therefore has float32 expansion rounding (as
// torch.cdist's matrix-multiply mode and faiss have); reported distances are direct.

extension MemoryBank {
    /// Default upper bound on one tile of the -2 Q B^T product, in bytes (fits in L2; bounded memory).
    public static let defaultTileBytes = 2 << 20

    /// The `k` nearest bank rows of every query row, by Euclidean distance.
    ///
    /// - Parameters:
    ///   - queries: (M,D) with this bank's D (check with `validate(queries:k:)` at the edge).
    ///   - k: neighbours per query, >= 1; clamped to the bank size N.
    /// - Returns: `distances` (M,k) ascending per row, and `indices` (M*k, row-major) of the bank rows.
    ///
    /// ```swift
    /// let (d, i) = bank.nearest(to: patchFeatures /* (784,D) */, k: 1)
    /// let imageScore = d.scalars.max()!
    /// ```
    public func nearest(to queries: Tensor, k: Int) -> (distances: Tensor, indices: [Int32]) {
        nearestRouted(to: queries, k: k).result
    }

    /// How `nearest(to:k:)` searched: `grouped` when group pruning ran for every query, `linear` when the bank has
    /// one group or the first block of queries showed that pruning would visit too much of this bank (both exact);
    /// `invertedFile` when the bank carries an `InvertedFileIndex` (approximate, opt-in).
    /// `quantized` when k = 1 and the bank has int8 codes (`QuantizedBankIndex`; exact).
    public enum SearchRoute: String, Sendable { case linear, grouped, quantized, invertedFile = "inverted-file" }

    /// Share of the bank rows that the first block of 64 queries may visit for group pruning to go on. Above it, a
    /// visited row through the groups' small products costs more than the row in the linear search's large tiles
    /// saves (measured on real banks, bench/RESULTS.md: bottle banks visit a small share and pruning wins 2.5x;
    /// Magnetic Tile banks visit nearly all rows and pruning loses 1.4-2x).
    public static let groupedSearchMaxVisitedShare = 0.5

    /// `nearest(to:k:)` with the route it took and the share of bank rows the first query block visited through
    /// the groups (nil when the bank has one group or an inverted-file index). The exact routes select by the same
    /// rule.
    ///
    /// ```swift
    /// let (result, route, visited) = bank.nearestRouted(to: patchFeatures, k: 1)
    /// ```
    public func nearestRouted(to queries: Tensor, k: Int)
        -> (result: (distances: Tensor, indices: [Int32]), route: SearchRoute, probeVisitedShare: Double?) {
        precondition(queries.rank == 2 && queries.shape[1] == dimension,
                     "queries must be (M,\(dimension)), got \(queries.shape)")
        precondition(k >= 1, "k must be >= 1, got \(k)")
        let m = queries.shape[0], kk = min(k, count)
        if let invertedFile, m > 0 {
            let candidates = invertedFileCandidates(queries, k: kk, index: invertedFile)
            return (refineDistances(queries: queries, candidates: candidates, k: kk), .invertedFile, nil)
        }
        if kk == 1, let quantized, m > 0 {
            return (refineDistances(queries: queries, candidates: quantizedCandidates(queries, index: quantized), k: 1),
                    .quantized, nil)
        }
        guard groups.count > 1, m > 0 else {
            let candidates = linearCandidates(queries, k: kk, tileBytes: Self.defaultTileBytes)
            return (refineDistances(queries: queries, candidates: candidates, k: kk), .linear, nil)
        }
        // A bank's intrinsic dimension decides whether its groups prune; the first block of queries measures it.
        var (candidates, done, share) = groupedCandidates(queries, k: kk, stopAboveShare: Self.groupedSearchMaxVisitedShare)
        var route = SearchRoute.grouped
        if done < m {
            let rest = linearCandidates(queries.rows(done..<m), k: kk, tileBytes: Self.defaultTileBytes)
            candidates.replaceSubrange((done * kk)..<(m * kk), with: rest)
            route = .linear
        }
        return (refineDistances(queries: queries, candidates: candidates, k: kk), route, share)
    }

    /// Every query through group pruning, whatever share of the bank it visits (for tests and benchmarks).
    public func nearestGrouped(to queries: Tensor, k: Int) -> (distances: Tensor, indices: [Int32]) {
        precondition(queries.rank == 2 && queries.shape[1] == dimension,
                     "queries must be (M,\(dimension)), got \(queries.shape)")
        precondition(k >= 1, "k must be >= 1, got \(k)")
        let kk = min(k, count)
        if queries.shape[0] == 0 || groups.count <= 1 {
            return refineDistances(queries: queries, candidates: linearCandidates(queries, k: kk, tileBytes: Self.defaultTileBytes), k: kk)
        }
        let (candidates, _, _) = groupedCandidates(queries, k: kk, stopAboveShare: nil)
        return refineDistances(queries: queries, candidates: candidates, k: kk)
    }

    /// All bank rows in order, in tiles of at most `tileBytes` bytes, no pruning (used for small banks;
    /// public for tests and benchmarks).
    public func nearestLinear(to queries: Tensor, k requestedK: Int, tileBytes: Int) -> (distances: Tensor, indices: [Int32]) {
        precondition(queries.rank == 2 && queries.shape[1] == dimension,
                     "queries must be (M,\(dimension)), got \(queries.shape)")
        precondition(requestedK >= 1, "k must be >= 1, got \(requestedK)")
        let k = min(requestedK, count)
        if queries.shape[0] == 0 { return (Tensor(zeros: [0, k]), []) }
        return refineDistances(queries: queries, candidates: linearCandidates(queries, k: k, tileBytes: tileBytes), k: k)
    }

    /// The k chosen bank rows of every query (M*k, by s = ||b||^2 - 2 q.b), all rows in tiles; k <= N.
    func linearCandidates(_ queries: Tensor, k: Int, tileBytes: Int) -> [Int32] {
        let m = queries.shape[0], n = count, d = dimension
        if m == 0 { return [] }

        // Tile sizes: a query block of mq rows times a bank block of nb rows, mq * nb * 4 <= tileBytes.
        let mq = min(m, 256)
        var nb = max(16, tileBytes / (4 * mq))
        nb = min(n, nb / 16 * 16)

        var bestS = [Float](repeating: .infinity, count: m * k)   // s = ||b||^2 - 2 q.b, ascending per row
        var bestI = [Int32](repeating: -1, count: m * k)
        var tile = [Float](repeating: 0, count: mq * nb)          // tile (mq, nb) = -2 Q_blk B_blk^T

        queries.withUnsafeBufferPointer { qBuf in
            features.withUnsafeBufferPointer { bBuf in
                squaredNorms.withUnsafeBufferPointer { bnBuf in
                    tile.withUnsafeMutableBufferPointer { tBuf in
                        bestS.withUnsafeMutableBufferPointer { sBuf in
                            bestI.withUnsafeMutableBufferPointer { iBuf in
                                let q = qBuf.baseAddress!, b = bBuf.baseAddress!, bn = bnBuf.baseAddress!
                                let t = tBuf.baseAddress!
                                var q0 = 0
                                while q0 < m {
                                    let mb = min(mq, m - q0)
                                    var n0 = 0
                                    while n0 < n {
                                        let nbb = min(nb, n - n0)
                                        // tile (mb, nbb) = -2 * q[q0..] (mb,D) x b[n0..]^T (D,nbb)
                                        sgemm(transposeA: false, transposeB: true, m: mb, n: nbb, k: d, alpha: -2,
                                              a: q + q0 * d, lda: d, b: b + n0 * d, ldb: d,
                                              beta: 0, c: t, ldc: nbb)
                                        for r in 0..<mb {
                                            let row = t + r * nbb
                                            let dst = (q0 + r) * k
                                            if k == 1 {
                                                selectMin(row: row, norms: bn + n0, count: nbb, offset: n0,
                                                          best: &sBuf[dst], bestIndex: &iBuf[dst])
                                            } else {
                                                selectTopK(row: row, norms: bn + n0, count: nbb, offset: n0, k: k,
                                                           best: sBuf.baseAddress! + dst, bestIndex: iBuf.baseAddress! + dst)
                                            }
                                        }
                                        n0 += nbb
                                    }
                                    q0 += mb
                                }
                            }
                        }
                    }
                }
            }
        }
        return bestI
    }

    /// The `k` nearest bank rows of the bank rows at `indices` (PatchCore's reweighting support set
    /// N_b(m*)); a row's own index comes first at distance 0 unless an identical row has a smaller index.
    ///
    /// ```swift
    /// let (_, support) = bank.nearestAmongBank(indices: [nearestBankRow], k: 9)
    /// ```
    public func nearestAmongBank(indices: [Int], k: Int) -> (distances: Tensor, indices: [Int32]) {
        nearest(to: rows(indices), k: k)
    }

    /// Euclidean distances from one query vector (D) to the bank rows `rows`, by direct differences.
    public func distances(from query: [Float], to rows: [Int32]) -> [Float] {
        precondition(query.count == dimension, "query has \(query.count) values, bank D is \(dimension)")
        let d = dimension
        return query.withUnsafeBufferPointer { q in
            features.withUnsafeBufferPointer { f in
                rows.map { r in squaredDistance(q.baseAddress!, f.baseAddress! + Int(r) * d, d).squareRoot() }
            }
        }
    }

    /// Group-pruned candidates (same selection rule as `linearCandidates`), k <= N, M >= 1.
    ///
    /// Per block of 64 queries: lb(q,g) = ||q - centre_g|| - radius_g (from a (64,G) product); groups are
    /// visited in increasing min_q lb; group g is skipped when for every query of the block
    /// lb^2 > ||q||^2 + s_k(q) + 2E_q, where s_k(q) is its current k-th best s and E_q = 4 D 2^-24
    /// (||q||^2 + max ||b||^2) bounds the float32 rounding of the expansions, so no skipped row could have
    /// entered the top k; the visit stops when min_q lb^2 exceeds every query's bound.
    /// With `stopAboveShare`, the search returns after the first block when that block visited more than this
    /// share of the bank rows: `done` is the number of query rows whose candidates are filled in.
    private func groupedCandidates(_ queries: Tensor, k: Int, stopAboveShare: Double?)
        -> (candidates: [Int32], done: Int, firstBlockShare: Double) {
        let m = queries.shape[0], d = dimension, g = groups.count
        var visitedRows = 0, firstBlockShare = 0.0, done = m
        let mq = 64
        let qn = rowSquaredNorms(queries)
        let errScale = Float(4 * d) * 0x1p-24
        var maxGroup = 0
        for j in 0..<g { maxGroup = max(maxGroup, groups.starts[j + 1] - groups.starts[j]) }
        var bestS = [Float](repeating: .infinity, count: m * k)
        var bestI = [Int32](repeating: -1, count: m * k)
        var lb = [Float](repeating: 0, count: mq * g)          // (mq, G) lower bounds on distance
        var tile = [Float](repeating: 0, count: mq * maxGroup)  // (mq, group size) = -2 Q_blk B_g^T
        var key = [Float](repeating: 0, count: g)
        var order = [Int](0..<g)
        var bound = [Float](repeating: 0, count: mq)            // ||q||^2 + s_k + 2E per query
        var err = [Float](repeating: 0, count: mq)

        queries.withUnsafeBufferPointer { qBuf in
        groups.rows.withUnsafeBufferPointer { rowsBuf in
        groups.norms.withUnsafeBufferPointer { bnBuf in
        groups.original.withUnsafeBufferPointer { origBuf in
        groups.centres.withUnsafeBufferPointer { cBuf in
        lb.withUnsafeMutableBufferPointer { lbBuf in
        tile.withUnsafeMutableBufferPointer { tBuf in
        bestS.withUnsafeMutableBufferPointer { sBuf in
        bestI.withUnsafeMutableBufferPointer { iBuf in
            let q = qBuf.baseAddress!, t = tBuf.baseAddress!, lbp = lbBuf.baseAddress!
            var q0 = 0
            while q0 < m {
                let mb = min(mq, m - q0)
                // lb (mb, G) = -2 Q_blk C^T, then the distance lower bounds.
                sgemm(transposeA: false, transposeB: true, m: mb, n: g, k: d, alpha: -2,
                      a: q + q0 * d, lda: d, b: cBuf.baseAddress!, ldb: d, beta: 0, c: lbp, ldc: g)
                for j in 0..<g { key[j] = .infinity }
                for r in 0..<mb {
                    let qq = qn[q0 + r]
                    err[r] = errScale * (qq + groups.maxNorm)
                    for j in 0..<g {
                        let d2 = qq + groups.centreNorms[j] + lbp[r * g + j] - err[r]
                        let l = max(0, max(0, d2).squareRoot() - groups.radius[j])
                        lbp[r * g + j] = l
                        key[j] = min(key[j], l)
                    }
                }
                for j in 0..<g { order[j] = j }
                order.sort { key[$0] < key[$1] }
                for j in order {
                    // Bounds of the block's queries from their current k-th best.
                    var need = false, maxBound: Float = 0
                    for r in 0..<mb {
                        let b = qn[q0 + r] + sBuf[(q0 + r) * k + k - 1] + 2 * err[r]
                        bound[r] = b
                        maxBound = max(maxBound, b)
                        let l = lbp[r * g + j]
                        if !(l * l > b) { need = true }
                    }
                    if key[j] * key[j] > maxBound { break }          // later groups have larger keys
                    if !need { continue }
                    let g0 = groups.starts[j], size = groups.starts[j + 1] - g0
                    if size == 0 { continue }
                    visitedRows += size
                    sgemm(transposeA: false, transposeB: true, m: mb, n: size, k: d, alpha: -2,
                          a: q + q0 * d, lda: d, b: rowsBuf.baseAddress! + g0 * d, ldb: d,
                          beta: 0, c: t, ldc: size)
                    for r in 0..<mb {
                        let l = lbp[r * g + j]
                        if l * l > bound[r] { continue }
                        let dst = (q0 + r) * k
                        selectIndexed(row: t + r * size, norms: bnBuf.baseAddress! + g0, original: origBuf.baseAddress! + g0,
                                      count: size, k: k, best: sBuf.baseAddress! + dst, bestIndex: iBuf.baseAddress! + dst)
                    }
                }
                if q0 == 0 {
                    firstBlockShare = Double(visitedRows) / Double(count)
                    if let stopAboveShare, firstBlockShare > stopAboveShare { done = mb; break }
                }
                q0 += mb
            }
        }}}}}}}}}
        return (bestI, done, firstBlockShare)
    }

    /// Recomputes the chosen neighbours' distances directly, sorts each row by (distance, index), takes sqrt.
    func refineDistances(queries: Tensor, candidates: [Int32], k: Int) -> (distances: Tensor, indices: [Int32]) {
        let m = queries.shape[0], d = dimension
        var dist = [Float](repeating: 0, count: m * k)
        var idx = candidates
        queries.withUnsafeBufferPointer { qBuf in
            features.withUnsafeBufferPointer { bBuf in
                var pairs = [(Float, Int32)](repeating: (0, 0), count: k)
                for r in 0..<m {
                    let q = qBuf.baseAddress! + r * d
                    for j in 0..<k {
                        let n = candidates[r * k + j]
                        // n < 0 only if every s was NaN (non-finite features); report NaN, not a crash.
                        pairs[j] = n < 0 ? (.nan, n) : (squaredDistance(q, bBuf.baseAddress! + Int(n) * d, d), n)
                    }
                    if k > 1 { pairs.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) } }
                    for j in 0..<k {
                        dist[r * k + j] = pairs[j].0.squareRoot()
                        idx[r * k + j] = pairs[j].1
                    }
                }
            }
        }
        return (Tensor(shape: [m, k], scalars: dist), idx)
    }
}

/// Running min of s_j = norms[j] + row[j] over one tile row; `best`/`bestIndex` carry the state across tiles.
/// Ties keep the smaller index (lanes keep their first minimum; lanes are merged by (value, index)).
@inline(__always)
private func selectMin(row: UnsafePointer<Float>, norms: UnsafePointer<Float>, count: Int, offset: Int,
                       best: inout Float, bestIndex: inout Int32) {
    var minV = SIMD16<Float>(repeating: .infinity)
    var minI = SIMD16<Int32>(repeating: Int32.max)
    var lane = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) &+ Int32(offset)
    let rawRow = UnsafeRawPointer(row), rawNorms = UnsafeRawPointer(norms)
    var j = 0
    while j + 16 <= count {
        let s = rawNorms.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
              + rawRow.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
        let less = s .< minV
        minV.replace(with: s, where: less)
        minI.replace(with: lane, where: less)
        lane &+= 16
        j += 16
    }
    var v = best, i = bestIndex
    for l in 0..<16 {
        let lv = minV[l], li = minI[l]
        if lv < v || (lv == v && li < i && lv != .infinity) { v = lv; i = li }
    }
    while j < count {
        let s = norms[j] + row[j]
        if s < v { v = s; i = Int32(offset + j) }
        j += 1
    }
    best = v
    bestIndex = i
}

/// Keeps the k smallest s_j = norms[j] + row[j] (ascending, ties by index) in `best[0..<k]`.
@inline(__always)
private func selectTopK(row: UnsafePointer<Float>, norms: UnsafePointer<Float>, count: Int, offset: Int, k: Int,
                        best: UnsafeMutablePointer<Float>, bestIndex: UnsafeMutablePointer<Int32>) {
    let rawRow = UnsafeRawPointer(row), rawNorms = UnsafeRawPointer(norms)
    @inline(__always) func insert(_ s: Float, _ n: Int32) {
        // Called in increasing n, so an equal value stays behind the earlier (smaller) index.
        guard s < best[k - 1] || (bestIndex[k - 1] < 0 && s <= best[k - 1]) else { return }
        var p = k - 1
        while p > 0 && (best[p - 1] > s || bestIndex[p - 1] < 0) {
            best[p] = best[p - 1]; bestIndex[p] = bestIndex[p - 1]; p -= 1
        }
        best[p] = s; bestIndex[p] = n
    }
    var j = 0
    while j + 16 <= count {
        let s = rawNorms.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
              + rawRow.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
        if any(s .<= SIMD16<Float>(repeating: best[k - 1])) {
            for l in 0..<16 { insert(s[l], Int32(offset + j + l)) }
        }
        j += 16
    }
    while j < count {
        insert(norms[j] + row[j], Int32(offset + j))
        j += 1
    }
}

/// (value, index) lexicographic order: ties go to the smaller bank index.
@inline(__always)
private func precedes(_ v: Float, _ i: Int32, _ w: Float, _ j: Int32) -> Bool {
    v < w || (v == w && i < j && i >= 0)
}

/// Folds one tile row of a group (or list) whose bank indices are `original[j]` into a query's k best
/// (`best`/`bestIndex` hold k entries): the running minimum for k = 1, the sorted insertion list otherwise.
@inline(__always)
func selectIndexed(row: UnsafePointer<Float>, norms: UnsafePointer<Float>, original: UnsafePointer<Int32>, count: Int,
                   k: Int, best: UnsafeMutablePointer<Float>, bestIndex: UnsafeMutablePointer<Int32>) {
    if k == 1 {
        selectMinIndexed(row: row, norms: norms, original: original, count: count, best: &best[0], bestIndex: &bestIndex[0])
    } else {
        selectTopKIndexed(row: row, norms: norms, original: original, count: count, k: k, best: best, bestIndex: bestIndex)
    }
}

/// `selectMin` over rows whose bank indices are `original[j]` (increasing within the call).
@inline(__always)
private func selectMinIndexed(row: UnsafePointer<Float>, norms: UnsafePointer<Float>, original: UnsafePointer<Int32>,
                              count: Int, best: inout Float, bestIndex: inout Int32) {
    var minV = SIMD16<Float>(repeating: .infinity)
    var minI = SIMD16<Int32>(repeating: Int32.max)
    let rawRow = UnsafeRawPointer(row), rawNorms = UnsafeRawPointer(norms), rawOrig = UnsafeRawPointer(original)
    var j = 0
    while j + 16 <= count {
        let s = rawNorms.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
              + rawRow.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
        let less = s .< minV
        minV.replace(with: s, where: less)
        minI.replace(with: rawOrig.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Int32>.self), where: less)
        j += 16
    }
    var v = best, i = bestIndex
    for l in 0..<16 where minV[l] != .infinity && (precedes(minV[l], minI[l], v, i) || i < 0) {
        v = minV[l]; i = minI[l]
    }
    while j < count {
        let s = norms[j] + row[j]
        if precedes(s, original[j], v, i) || (i < 0 && s < .infinity) { v = s; i = original[j] }
        j += 1
    }
    best = v
    bestIndex = i
}

/// `selectTopK` over rows whose bank indices are `original[j]`, with explicit (value, index) order.
@inline(__always)
private func selectTopKIndexed(row: UnsafePointer<Float>, norms: UnsafePointer<Float>, original: UnsafePointer<Int32>,
                               count: Int, k: Int,
                               best: UnsafeMutablePointer<Float>, bestIndex: UnsafeMutablePointer<Int32>) {
    @inline(__always) func before(_ v: Float, _ i: Int32, _ p: Int) -> Bool {
        bestIndex[p] < 0 ? v < .infinity || best[p] == .infinity : precedes(v, i, best[p], bestIndex[p])
    }
    @inline(__always) func insert(_ s: Float, _ n: Int32) {
        guard before(s, n, k - 1) else { return }
        var p = k - 1
        while p > 0 && before(s, n, p - 1) {
            best[p] = best[p - 1]; bestIndex[p] = bestIndex[p - 1]; p -= 1
        }
        best[p] = s; bestIndex[p] = n
    }
    let rawRow = UnsafeRawPointer(row), rawNorms = UnsafeRawPointer(norms)
    var j = 0
    while j + 16 <= count {
        let s = rawNorms.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
              + rawRow.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
        if any(s .<= SIMD16<Float>(repeating: best[k - 1])) {
            for l in 0..<16 { insert(s[l], original[j + l]) }
        }
        j += 16
    }
    while j < count {
        insert(norms[j] + row[j], original[j])
        j += 1
    }
}
