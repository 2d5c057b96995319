import CVectorMath
import TensorCore

/// Exact 1-NN search that reads int8 codes before it reads features: a reduced-precision candidate pass with an
/// exact re-check, and the default for k = 1 on banks of at least `minimumRows` rows.
///
/// The bank rows are rotated onto their 32 leading principal axes and coded as int8 (`Int8BoundCodes`, 32 bytes a
/// row, beside the 512 of a 128-d feature). For a query q:
///  1. First neighbours from cheap guesses: the neighbour found for the query before it (patches of one image come
///     in raster order), and in each bank tile the row of the smallest code bound (the tile's bounds are computed
///     into a table first, `pc_int8_bound_values`). The smallest direct squared distance so far is U. (Before,
///     the nearest rows of the group whose centre is nearest to q: slower, `boundTable: false`.)
///  2. Every bank row whose code bound L (a lower bound on ||q - b||^2 over the coded coordinates, see
///     `Int8BoundCodes`) is at most T = (sqrt(U) * 1.0001 + E)^2 * 1.0002 gets its direct squared distance, and U
///     (and T) drop whenever it is smaller. E covers the float rounding of both rotations
///     (`PrincipalAxes.roundingBound`), the factors the rounding of L, T and of the direct distances.
///  3. A row ruled out has ||q - b||^2 > U (1.0001)^2 > the chosen distance, so the result is the minimum of the
///     direct distances over all rows, smallest index on ties: the same rows and distances as the naive search
///     (by float32 direct differences), not merely within a tolerance of it.
/// On Magnetic Tile's real features about 0.1-3% of the rows survive the bound; the scan of the codes (VNNI,
/// bank tiles that stay in cache for a block of 64 queries) is most of the cost. Written here: no listed
/// package has such a search (faiss's IndexScalarQuantizer is approximate).
final class QuantizedBankIndex: @unchecked Sendable {
    /// Banks smaller than this are searched linearly (the codes would not pay for themselves: at 256 rows both
    /// take 0.7 ms for 784 queries, bench/RESULTS.md).
    static let minimumRows = 256
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
    /// `boundTable` picks how the first neighbours are found (`quantizedCandidates`); `tileRows` (for tests, a
    /// multiple of 16) replaces the bank tile's size.
    public func nearestQuantized(to queries: Tensor, boundTable: Bool = true,
                                 tileRows: Int? = nil) -> (distances: Tensor, indices: [Int32])? {
        precondition(queries.rank == 2 && queries.shape[1] == dimension,
                     "queries must be (M,\(dimension)), got \(queries.shape)")
        guard let quantized else { return nil }
        return refineDistances(queries: queries, candidates: quantizedCandidates(queries, index: quantized,
                                                                                boundTable: boundTable,
                                                                                tileRows: tileRows), k: 1)
    }

    /// The nearest bank row of every query (M), by the steps in `QuantizedBankIndex`.
    /// `boundTable` takes the first neighbours from every row's bound (the default), false from the groups (the
    /// earlier way, kept for comparison: bench/RESULTS.md).
    func quantizedCandidates(_ queries: Tensor, index: QuantizedBankIndex, boundTable: Bool = true,
                             tileRows: Int? = nil) -> [Int32] {
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
        // Bank tiles: 16,384 rows (512 KiB of codes), or the whole bank in one for the bound table up to 65,536 rows
        // (measured: a 54,802-row bank 24 against 29 ms at 784 queries; a 548,016-row one is faster in the small tiles).
        let wholeBank = boundTable && count <= 65_536
        let tileBlocks = tileRows.map { max(1, $0 / 16) } ?? (wholeBank ? max(1, (count + 15) / 16) : 1024)
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
                // + 16: pc_indices_at_most stores whole vectors.
                let survivors = UnsafeMutablePointer<Int32>.allocate(capacity: tileBlocks * 16 + 16)
                var bestS = [Float](repeating: .infinity, count: rows)
                var bestI = [Int32](repeating: -1, count: rows)
                var threshold = [Float](repeating: .infinity, count: rows)
                var roundingE = [Float](repeating: 0, count: rows)
                defer { codesQ.deallocate(); survivors.deallocate() }
                @inline(__always) func offer(_ r: Int, _ i: Int32) {
                    consider(r, i, pc_squared_distance(qBase + (lo + r) * d, fBase + Int(i) * d, d))
                }
                /// Row i at squared distance s from query r (the group copy's rows equal the bank's bit for bit, and
                /// pc_squared_distance returns squaredDistance's bits, faster).
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
                    let centred = pc_squared_distance(q, meanBuf.baseAddress!, d)
                    roundingE[r] = index.axes.roundingBound(maxCentredNorm: max(index.maxCentredNorm, centred.squareRoot()))
                }
                if boundTable {
                    // Per bank tile, every row's bound into a table: the row of the smallest bound is a first
                    // neighbour (with the previous query's), then every row within the threshold gets its direct
                    // distance.
                    let values = UnsafeMutablePointer<Float>.allocate(capacity: tileBlocks * 16)
                    defer { values.deallocate() }
                    var tile = 0
                    while tile < bankBlocks {
                        let end = min(bankBlocks, tile + tileBlocks), first = tile * 16
                        let rowsInTile = min(n, end * 16) - first
                        for r in 0..<rows {
                            if tile == 0, r > 0, bestI[r - 1] >= 0 { offer(r, bestI[r - 1]) }
                            let smallest = index.codes.boundValues(centre: codesQ + r * groupsCoded * 4, blocks: tile, end,
                                                                   count: n, into: values)
                            if smallest >= 0, values[smallest - first] <= threshold[r] { offer(r, Int32(smallest)) }
                            let found = pc_indices_at_most(values, rowsInTile, threshold[r], survivors)
                            // The row already chosen (a first neighbour) passes its own bound: not measured twice.
                            for k in 0..<found where values[Int(survivors[k])] <= threshold[r]
                                && Int32(first) + survivors[k] != bestI[r] {
                                offer(r, Int32(first) + survivors[k])
                            }
                        }
                        tile = end
                    }
                    for r in 0..<rows { bestOut[lo + r] = bestI[r] }
                    return
                }
                for r in 0..<rows {
                    let q = qBase + (lo + r) * d
                    // First guesses: the previous query's neighbour, then the nearest group's rows.
                    if r > 0, bestI[r - 1] >= 0 { offer(r, bestI[r - 1]) }
                    if groups.count > 1 {
                        var nearest = 0, nearestS = Float.infinity
                        for g in 0..<groups.count {
                            let s = pc_squared_distance(q, gCentres.baseAddress! + g * d, d)
                            if s < nearestS { nearestS = s; nearest = g }
                        }
                        for row in groups.starts[nearest]..<groups.starts[nearest + 1] {
                            consider(r, groups.original[row], pc_squared_distance(q, gRows.baseAddress! + row * d, d))
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
