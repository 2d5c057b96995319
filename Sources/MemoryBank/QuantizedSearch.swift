import CVectorMath
import TensorCore

/// Exact 1-NN search that reads int8 codes before it reads features: a reduced-precision candidate pass with an
/// exact re-check, and the default for k = 1 on banks of at least `minimumRows` rows.
///
/// The bank rows are rotated onto their 32 leading principal axes and coded as int8 (`Int8BoundCodes`, 32 bytes a
/// row, beside the 512 of a 128-d feature). For a query q:
///  1. First neighbours from cheap guesses: the neighbour found for the query before it (patches of one image come
///     in raster order), and in each bank tile the row whose code is nearest to the query's code (the tile's
///     values are computed into a table first, `pc_int8_dot_table`). The smallest direct squared distance so far
///     is U.
///  2. Every bank row that the codes cannot rule out gets its direct squared distance, and U drops whenever it is
///     smaller. With the codes' scale classes (`.dotTable`, the default), the codes of query and row are ŷ_q, ŷ_b
///     (each within its measured residual rho of the rotated point y), so
///         ||y_q - y_b|| >= ||ŷ_q - ŷ_b|| - rho_q - rho_b,
///     and a row is ruled out when ||ŷ_q - ŷ_b||^2 (one integer dot product, exact) exceeds
///     (c + rho_b)^2, c = ((sqrt(U) * 1.0001 + E) * 1.0001 + rho_q) * (1 + 1e-5).
///     `.boundTable` and `.groups` (kept for comparison, bench/RESULTS.md) use the per-group bound L of
///     `Int8BoundCodes` against T = (sqrt(U) * 1.0001 + E)^2 * 1.0002, with the first neighbours of a table of L or
///     of the group whose centre is nearest. E covers the float rounding of both rotations
///     (`PrincipalAxes.roundingBound`), the factors the rounding of the bounds, thresholds and direct distances.
///  3. A row ruled out has ||q - b||^2 > U (1.0001)^2 > the chosen distance, so the result is the minimum of the
///     direct distances over all rows, smallest index on ties: the same rows and distances as the naive search
///     (by float32 direct differences), not merely within a tolerance of it.
/// On Magnetic Tile's real features well under 1% of the rows survive; the scan of the codes (VNNI, bank tiles
/// that stay in cache for a block of 64 queries) is most of the cost. Written here: no listed package has such a
/// search (faiss's IndexScalarQuantizer is approximate).
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
            return Int8BoundCodes(count: n, width: width, scaleClasses: true) { i, l in p[i * width + l] }
        }
    }
}

extension QuantizedBankIndex {
    /// The queries (M, d) rotated onto the axes: (M, width), row after row.
    func rotated(_ queries: Tensor) -> [Float] {
        var y = [Float](repeating: 0, count: queries.shape[0] * axes.width)
        queries.withUnsafeBufferPointer { q in
            y.withUnsafeMutableBufferPointer { _ = axes.rotate(q.baseAddress!, rows: queries.shape[0], into: $0.baseAddress!) }
        }
        return y
    }

    /// E for one query of d features: the rounding of both rotations, with R the larger of the bank rows' and the
    /// query's distance to the mean (`PrincipalAxes.roundingBound`).
    func roundingBound(query q: UnsafePointer<Float>) -> Float {
        let centred = axes.mean.withUnsafeBufferPointer { pc_squared_distance(q, $0.baseAddress!, axes.d) }
        return axes.roundingBound(maxCentredNorm: max(maxCentredNorm, centred.squareRoot()))
    }

    /// c of the rule in `QuantizedBankIndex` for a query whose nearest row so far is at squared distance s: a row
    /// b may be nearer only if its squared code distance is at most (c + rho_b)^2 (`pc_indices_within`).
    /// `rounding` is E (`PrincipalAxes.roundingBound`), `queryResidual` rho_q (`Int8BoundCodes.dotQuery`).
    static func reach(squaredDistance s: Float, rounding: Float, queryResidual: Float) -> Float {
        ((s.squareRoot() * 1.0001 + rounding) * 1.0001 + queryResidual) * (1 + 1e-5)
    }
}

/// How the quantized exact search finds its first neighbours and rules rows out (see `QuantizedBankIndex`).
public enum QuantizedScan: Sendable, CaseIterable {
    /// The integer dot product of the codes with each row's residual (the default).
    case dotTable
    /// The per-group bound L, first neighbours from a table of it.
    case boundTable
    /// The per-group bound L, first neighbours from the group whose centre is nearest.
    case groups
}

extension MemoryBank {
    /// Every query through the quantized exact search (k = 1); nil when the bank has no codes (fewer than
    /// `QuantizedBankIndex.minimumRows` rows). For tests and benchmarks; `nearest(to:k:)` takes it by itself.
    /// `scan` picks how rows are ruled out and the first neighbours found (`QuantizedScan`); `tileRows` (for tests,
    /// a multiple of 16) replaces the bank tile's size.
    public func nearestQuantized(to queries: Tensor, scan: QuantizedScan = .dotTable,
                                 tileRows: Int? = nil) -> (distances: Tensor, indices: [Int32])? {
        precondition(queries.rank == 2 && queries.shape[1] == dimension,
                     "queries must be (M,\(dimension)), got \(queries.shape)")
        guard let quantized else { return nil }
        return refineDistances(queries: queries, candidates: quantizedCandidates(queries, index: quantized, scan: scan,
                                                                                tileRows: tileRows), k: 1)
    }

    /// The nearest bank row of every query (M), by the steps in `QuantizedBankIndex`.
    func quantizedCandidates(_ queries: Tensor, index: QuantizedBankIndex, scan: QuantizedScan = .dotTable,
                             tileRows: Int? = nil) -> [Int32] {
        if scan == .dotTable, let dot = index.codes.dot {
            return dotTableCandidates(queries, index: index, dot: dot, tileRows: tileRows)
        }
        let boundTable = scan != .groups
        let m = queries.shape[0], n = count, d = dimension
        if m == 0 { return [] }
        let width = index.axes.width, groupsCoded = index.codes.groups
        // Rotated queries, all at once (sgemm uses the BLAS threads; the workers below do not call it).
        let yq = index.rotated(queries)
        var best = [Int32](repeating: -1, count: m)
        let queryBlock = 64
        // Bank tiles: 16,384 rows (512 KiB of codes), or the whole bank in one for the bound table up to 65,536 rows
        // (measured: a 54,802-row bank 24 against 29 ms at 784 queries; a 548,016-row one is faster in the small tiles).
        let wholeBank = boundTable && count <= 65_536
        let tileBlocks = tileRows.map { max(1, $0 / 16) } ?? (wholeBank ? max(1, (count + 15) / 16) : 1024)
        let bankBlocks = index.codes.paddedCount / 16
        queries.withUnsafeBufferPointer { qBuf in
        features.withUnsafeBufferPointer { fBuf in
        yq.withUnsafeBufferPointer { yBuf in
        best.withUnsafeMutableBufferPointer { bestBuf in
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
                    roundingE[r] = index.roundingBound(query: q)
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
        }}}}}}
        return best
    }

    /// `quantizedCandidates` with the codes' dot form (`QuantizedScan.dotTable`): per bank tile and 4 queries at a
    /// time, the squared distances between the codes into a table, then the first neighbours and the rows the
    /// residuals cannot rule out.
    private func dotTableCandidates(_ queries: Tensor, index: QuantizedBankIndex, dot: Int8BoundCodes.DotForm,
                                    tileRows: Int?) -> [Int32] {
        let m = queries.shape[0], n = count, d = dimension
        if m == 0 { return [] }
        let width = index.axes.width, codeBytes = index.codes.groups * 4
        let yq = index.rotated(queries)
        var best = [Int32](repeating: -1, count: m)
        let queryBlock = 64, together = 4
        // Bank tiles of 8,192 rows: 256 KiB of codes and a 128 KiB table for 4 queries stay in the core's L2.
        let tileBlocks = tileRows.map { max(1, $0 / 16) } ?? 512
        let bankBlocks = index.codes.paddedCount / 16
        queries.withUnsafeBufferPointer { qBuf in
        features.withUnsafeBufferPointer { fBuf in
        yq.withUnsafeBufferPointer { yBuf in
        best.withUnsafeMutableBufferPointer { bestBuf in
        dot.shift.withUnsafeBufferPointer { shiftBuf in
        dot.rowTerm.withUnsafeBufferPointer { rowTermBuf in
        dot.residual.withUnsafeBufferPointer { residualBuf in
            let qBase = qBuf.baseAddress!, fBase = fBuf.baseAddress!, bestOut = bestBuf.baseAddress!
            Parallel.forEach(iterations: (m + queryBlock - 1) / queryBlock) { block in
                let lo = block * queryBlock, rows = min(queryBlock, m - lo)
                let codesQ = UnsafeMutablePointer<UInt8>.allocate(capacity: rows * codeBytes)
                let queryTerm = UnsafeMutablePointer<Int32>.allocate(capacity: rows)
                let table = UnsafeMutablePointer<Float>.allocate(capacity: together * tileBlocks * 16)
                // + 16: pc_indices_within stores whole vectors.
                let survivors = UnsafeMutablePointer<Int32>.allocate(capacity: tileBlocks * 16 + 16)
                let direct = UnsafeMutablePointer<Float>.allocate(capacity: tileBlocks * 16)
                var smallest = [Int32](repeating: -1, count: together)
                var bestS = [Float](repeating: .infinity, count: rows)
                var bestI = [Int32](repeating: -1, count: rows)
                var reach = [Float](repeating: .infinity, count: rows)       // c of the rule above
                var roundingE = [Float](repeating: 0, count: rows), residualQ = [Float](repeating: 0, count: rows)
                defer { codesQ.deallocate(); queryTerm.deallocate(); table.deallocate(); survivors.deallocate(); direct.deallocate() }
                @inline(__always) func offer(_ r: Int, _ i: Int32) {
                    consider(r, i, pc_squared_distance(qBase + (lo + r) * d, fBase + Int(i) * d, d))
                }
                @inline(__always) func consider(_ r: Int, _ i: Int32, _ s: Float) {
                    if s < bestS[r] || (s == bestS[r] && i < bestI[r]) {
                        bestS[r] = s; bestI[r] = i
                        reach[r] = QuantizedBankIndex.reach(squaredDistance: s, rounding: roundingE[r],
                                                            queryResidual: residualQ[r])
                    }
                }
                for r in 0..<rows {
                    let (term, residual) = index.codes.dotQuery(yBuf.baseAddress! + (lo + r) * width,
                                                                into: codesQ + r * codeBytes)
                    queryTerm[r] = term; residualQ[r] = residual
                    roundingE[r] = index.roundingBound(query: qBase + (lo + r) * d)
                }
                var tile = 0
                while tile < bankBlocks {
                    let end = min(bankBlocks, tile + tileBlocks), first = tile * 16
                    let rowsInTile = min(n, end * 16) - first, stride = (end - tile) * 16
                    var r0 = 0
                    while r0 < rows {
                        let nq = min(together, rows - r0)
                        smallest.withUnsafeMutableBufferPointer { sm in
                            pc_int8_dot_table(index.codes.codes, index.codes.groups, shiftBuf.baseAddress!,
                                              codesQ + r0 * codeBytes, nq, queryTerm + r0, rowTermBuf.baseAddress!,
                                              dot.unit2, tile, end, n, table, stride, sm.baseAddress!)
                        }
                        for k in 0..<nq {
                            let r = r0 + k, values = table + k * stride
                            if tile == 0, r > 0, bestI[r - 1] >= 0 { offer(r, bestI[r - 1]) }
                            // The tile's nearest code is a first neighbour unless the rule below already rules it out.
                            if smallest[k] >= 0 {
                                let t = reach[r] + residualBuf[Int(smallest[k])]
                                if values[Int(smallest[k]) - first] <= t * t { offer(r, smallest[k]) }
                            }
                            let found = pc_indices_within(values, residualBuf.baseAddress! + first, rowsInTile, reach[r],
                                                          survivors)
                            // Their direct distances in one call (the rows' memory fetched ahead), then the nearest.
                            pc_squared_distances(qBase + (lo + r) * d, fBase, d, survivors, found, first, direct)
                            for j in 0..<found { consider(r, Int32(first) + survivors[j], direct[j]) }
                        }
                        r0 += nq
                    }
                    tile = end
                }
                for r in 0..<rows { bestOut[lo + r] = bestI[r] }
            }
        }}}}}}}
        return best
    }
}
