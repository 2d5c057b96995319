import TensorCore

/// Exact 1-NN search that reads int8 codes before it reads features: a reduced-precision candidate pass with an
/// exact re-check, and the default for k = 1 on banks of at least `minimumRows` rows.
///
/// The bank rows are rotated onto their 32 leading principal axes and coded as int8 (`Int8BoundCodes`, 32 bytes a
/// row, beside the 512 of a 128-d feature). For a query q:
///  1. A first neighbour from cheap guesses: the nearest row of the group (`BankGroups`) whose centre is nearest
///     to q, and the neighbour found for the query before it (patches of one image come in raster order). Its
///     direct squared distance is U.
///  2. Every bank row whose code bound L (a lower bound on ||q - b||^2 over the coded coordinates, see
///     `Int8BoundCodes`) is at most T = (sqrt(U) * 1.0001 + E)^2 * 1.0002 gets its direct squared distance, and U
///     (and T) drop whenever it is smaller. E covers the float rounding of both rotations
///     (`PrincipalAxes.roundingBound`), the factors the rounding of L, T and of the direct distances.
///  3. A row ruled out has ||q - b||^2 > U (1.0001)^2 > the chosen distance, so the result is the minimum of the
///     direct distances over all rows, smallest index on ties: the same rows and distances as the naive search
///     (by float32 direct differences), not merely within a tolerance of it.
/// On Magnetic Tile's real features about 0.1-0.5% of the rows survive the bound; the scan of the codes (VNNI,
/// bank tiles of 16k rows that stay in L2 for a block of 64 queries) is the cost. Written here: no listed
/// package has such a search (faiss's IndexScalarQuantizer is approximate).
final class QuantizedBankIndex: @unchecked Sendable {
    /// Banks smaller than this are searched linearly (the codes would not pay for themselves).
    static let minimumRows = 1024
    let axes: PrincipalAxes
    let codes: Int8BoundCodes
    /// max ||b - mu|| over the bank rows.
    let maxCentredNorm: Float

    init(features: Tensor) {
        let n = features.shape[0], d = features.shape[1]
        let width = min(32, (d + 3) / 4 * 4)
        var r: Float = 0
        var y = [Float](repeating: 0, count: n * width)
        let axes = features.withUnsafeBufferPointer { f in PrincipalAxes(f.baseAddress!, n: n, d: d, width: width) }
        features.withUnsafeBufferPointer { f in
            y.withUnsafeMutableBufferPointer { yb in r = axes.rotate(f.baseAddress!, rows: n, into: yb.baseAddress!) }
        }
        self.axes = axes
        self.maxCentredNorm = r
        codes = y.withUnsafeBufferPointer { yb in
            let p = yb.baseAddress!
            return Int8BoundCodes(count: n, width: width) { i, l in p[i * width + l] }
        }
    }
}

extension MemoryBank {
    /// Every query through the quantized exact search (k = 1); nil when the bank has no codes (fewer than
    /// `QuantizedBankIndex.minimumRows` rows). For tests and benchmarks; `nearest(to:k:)` takes it by itself.
    public func nearestQuantized(to queries: Tensor) -> (distances: Tensor, indices: [Int32])? {
        precondition(queries.rank == 2 && queries.shape[1] == dimension,
                     "queries must be (M,\(dimension)), got \(queries.shape)")
        guard let quantized else { return nil }
        return refineDistances(queries: queries, candidates: quantizedCandidates(queries, index: quantized), k: 1)
    }

    /// The nearest bank row of every query (M), by the steps in `QuantizedBankIndex`.
    func quantizedCandidates(_ queries: Tensor, index: QuantizedBankIndex) -> [Int32] {
        let m = queries.shape[0], n = count, d = dimension
        if m == 0 { return [] }
        let width = index.axes.width, groupsCoded = index.codes.groups
        // Rotated queries, all at once (sgemm uses the BLAS threads; the workers below do not call it).
        var yq = [Float](repeating: 0, count: m * width)
        queries.withUnsafeBufferPointer { q in
            yq.withUnsafeMutableBufferPointer { yb in _ = index.axes.rotate(q.baseAddress!, rows: m, into: yb.baseAddress!) }
        }
        var best = [Int32](repeating: -1, count: m)
        let queryBlock = 64
        let tileBlocks = 1024                                   // 16,384 bank rows, 512 KiB of codes
        let bankBlocks = index.codes.paddedCount / 16
        let mean = index.axes.mean
        queries.withUnsafeBufferPointer { qBuf in
        features.withUnsafeBufferPointer { fBuf in
        yq.withUnsafeBufferPointer { yBuf in
        best.withUnsafeMutableBufferPointer { bestBuf in
        mean.withUnsafeBufferPointer { meanBuf in
        groups.rows.withUnsafeBufferPointer { gRows in
        groups.centres.withUnsafeBufferPointer { gCentres in
            let qBase = qBuf.baseAddress!, fBase = fBuf.baseAddress!, bestOut = bestBuf.baseAddress!
            Parallel.forEach(iterations: (m + queryBlock - 1) / queryBlock) { block in
                let lo = block * queryBlock, rows = min(queryBlock, m - lo)
                let codesQ = UnsafeMutablePointer<Int8>.allocate(capacity: rows * groupsCoded * 4)
                let survivors = UnsafeMutablePointer<Int32>.allocate(capacity: tileBlocks * 16)
                var bestS = [Float](repeating: .infinity, count: rows)
                var bestI = [Int32](repeating: -1, count: rows)
                var threshold = [Float](repeating: .infinity, count: rows)
                var roundingE = [Float](repeating: 0, count: rows)
                defer { codesQ.deallocate(); survivors.deallocate() }
                @inline(__always) func offer(_ r: Int, _ i: Int32) {
                    consider(r, i, squaredDistance(qBase + (lo + r) * d, fBase + Int(i) * d, d))
                }
                /// Row i at squared distance s from query r (the group copy's rows equal the bank's bit for bit).
                @inline(__always) func consider(_ r: Int, _ i: Int32, _ s: Float) {
                    if s < bestS[r] || (s == bestS[r] && i < bestI[r]) {
                        bestS[r] = s; bestI[r] = i
                        let a = s.squareRoot() * 1.0001 + roundingE[r]
                        threshold[r] = a * a * 1.0002
                    }
                }
                for r in 0..<rows {
                    let q = qBase + (lo + r) * d
                    index.codes.quantize(yBuf.baseAddress! + (lo + r) * width, into: codesQ + r * groupsCoded * 4)
                    var centred: Float = 0
                    for l in 0..<d { let e = q[l] - meanBuf[l]; centred += e * e }
                    roundingE[r] = index.axes.roundingBound(maxCentredNorm: max(index.maxCentredNorm, centred.squareRoot()))
                    // First guesses: the previous query's neighbour, then the nearest group's rows.
                    if r > 0, bestI[r - 1] >= 0 { offer(r, bestI[r - 1]) }
                    if groups.count > 1 {
                        var nearest = 0, nearestS = Float.infinity
                        for g in 0..<groups.count {
                            let s = squaredDistance(q, gCentres.baseAddress! + g * d, d)
                            if s < nearestS { nearestS = s; nearest = g }
                        }
                        for row in groups.starts[nearest]..<groups.starts[nearest + 1] {
                            consider(r, groups.original[row], squaredDistance(q, gRows.baseAddress! + row * d, d))
                        }
                    } else {
                        offer(r, 0)
                    }
                }
                // The scan, in bank tiles that stay in cache for the whole query block.
                var tile = 0
                while tile < bankBlocks {
                    let end = min(bankBlocks, tile + tileBlocks)
                    for r in 0..<rows {
                        let found = threshold.withUnsafeBufferPointer { t in
                            index.codes.survivors(centre: codesQ + r * groupsCoded * 4, threshold: t.baseAddress! + r,
                                                  perPoint: false, blocks: tile, end, into: survivors)
                        }
                        for k in 0..<found where Int(survivors[k]) < n { offer(r, survivors[k]) }
                    }
                    tile = end
                }
                for r in 0..<rows { bestOut[lo + r] = bestI[r] }
            }
        }}}}}}}
        return best
    }
}
