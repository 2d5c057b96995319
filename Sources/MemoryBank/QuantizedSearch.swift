import CVectorMath
import TensorCore

/// Exact 1-NN search that reads int8 codes before it reads features: a reduced-precision candidate pass with an
/// exact re-check, and the default for k = 1 on banks of at least `minimumRows` rows.
///
/// The bank rows are rotated onto their 32 leading principal axes and coded as int8 (`Int8BoundCodes`, 32 bytes a
/// row, beside the 512 of a 128-d feature), stored group after group (`CodeGroups`: cells of nearby rows, each
/// with a centre coded on the same grid). For a query q:
///  1. First neighbours from cheap guesses: the neighbour found for the query before it (patches of one image come
///     in raster order), the rows of the group whose centre is nearest, and in each run of scanned blocks the row
///     whose code is nearest to the query's code (the run's values are computed into a table first,
///     `pc_int8_dot_table`). The smallest direct squared distance so far is U.
///  2. Every bank row that the codes cannot rule out gets its direct squared distance, and U drops whenever it is
///     smaller. With the codes' scale classes (`.dotTable`, the default), the codes of query and row are ŷ_q, ŷ_b
///     (each within its measured residual rho of the rotated point y), so
///         ||y_q - y_b|| >= ||ŷ_q - ŷ_b|| - rho_q - rho_b,
///     and a row is ruled out when ||ŷ_q - ŷ_b||^2 (one integer dot product, exact) exceeds
///     (c + rho_b)^2, c = ((sqrt(U) * 1.0001 + E) * 1.0001 + rho_q) * (1 + 1e-5). A whole group is ruled out, its
///     codes not read, when the code distance to its centre less its spread exceeds c (`CodeGroups`): then every
///     member is.
///     `.boundTable` and `.groups` (kept for comparison, bench/RESULTS.md) use the per-group bound L of
///     `Int8BoundCodes` against T = (sqrt(U) * 1.0001 + E)^2 * 1.0002, with the first neighbours of a table of L or
///     of the group whose centre is nearest. E covers the float rounding of both rotations
///     (`PrincipalAxes.roundingBound`), the factors the rounding of the bounds, thresholds and direct distances.
///  3. A row ruled out has ||q - b||^2 > U (1.0001)^2 > the chosen distance, so the result is the minimum of the
///     direct distances over all rows, smallest index on ties: the same rows and distances as the naive search
///     (by float32 direct differences), not merely within a tolerance of it.
/// On Magnetic Tile's real features well under 1% of the rows survive, but nearly every group must be read (the
/// features fill many dimensions); there the scan of the codes (VNNI, bank tiles that stay in cache for a block of
/// 64 queries) is most of the cost. On the bottle bank at 1,000 x 1,000 the groups leave about 10% of the codes to
/// read on a good image (bench/RESULTS.md). Written here: no listed package has such a search (faiss's
/// IndexScalarQuantizer is approximate).
final class QuantizedBankIndex: @unchecked Sendable {
    /// Banks smaller than this are searched linearly (the codes would not pay for themselves: at 256 rows both
    /// take 0.7 ms for 784 queries, bench/RESULTS.md).
    static let minimumRows = 256
    let axes: PrincipalAxes
    let codes: Int8BoundCodes
    /// max ||b - mu|| over the bank rows.
    let maxCentredNorm: Float
    /// The codes' slots in groups (`CodeGroups`): slot s of `codes` is bank row `groups.order[s]`.
    let groups: CodeGroups

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
        let (order, starts, centreY) = y.withUnsafeBufferPointer { CodeGroups.arrange(y: $0.baseAddress!, rows: n, width: width) }
        let codes = y.withUnsafeBufferPointer { yb in
            let p = yb.baseAddress!
            return Int8BoundCodes(count: n, width: width, scaleClasses: true) { i, l in p[Int(order[i]) * width + l] }
        }
        self.codes = codes
        groups = CodeGroups(order: order, starts: starts, centreY: centreY, width: width, codes: codes)
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
        index.groups.order.withUnsafeBufferPointer { slotRow in
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
                            if smallest >= 0, values[smallest - first] <= threshold[r] { offer(r, slotRow[smallest]) }
                            let found = pc_indices_at_most(values, rowsInTile, threshold[r], survivors)
                            // The row already chosen (a first neighbour) passes its own bound: not measured twice.
                            for k in 0..<found where values[Int(survivors[k])] <= threshold[r]
                                && slotRow[first + Int(survivors[k])] != bestI[r] {
                                offer(r, slotRow[first + Int(survivors[k])])
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
                        for k in 0..<found where Int(survivors[k]) < n { offer(r, slotRow[Int(survivors[k])]) }
                    }
                    tile = end
                }
                for r in 0..<rows { bestOut[lo + r] = bestI[r] }
            }
        }}}}}}}
        return best
    }

    /// `quantizedCandidates` with the codes' dot form (`QuantizedScan.dotTable`). Per block of 64 queries: each
    /// query's code distance to every group centre (`CodeGroups`), then a first scan of the query's nearest group;
    /// then per bank tile (whole groups) and 4 queries at a time, the groups that none of the 4 can rule out, in
    /// runs of consecutive blocks: the squared distances between the codes into a table, the run's nearest code as a
    /// first neighbour, and the rows the residuals cannot rule out.
    private func dotTableCandidates(_ queries: Tensor, index: QuantizedBankIndex, dot: Int8BoundCodes.DotForm,
                                    tileRows: Int?) -> [Int32] {
        let m = queries.shape[0], n = count, d = dimension
        if m == 0 { return [] }
        let width = index.axes.width, codeBytes = index.codes.groups * 4
        let yq = index.rotated(queries)
        var best = [Int32](repeating: -1, count: m)
        let queryBlock = 64, together = 4
        let groups = index.groups, g = groups.count, centres = groups.centres
        let starts = groups.starts, spread = groups.spread       // read per group, not per row
        let centreForm = centres.dot!, centreStride = centres.paddedCount
        // Bank tiles of whole groups, about 8,192 slots: 256 KiB of codes and a 128 KiB table for 4 queries stay in
        // the core's L2.
        let tiles = groups.tiles(slots: tileRows ?? 8192)
        let tableBlocks = tiles.map { (groups.starts[$0.upperBound] + 15) / 16 - groups.starts[$0.lowerBound] / 16 }.max() ?? 1
        queries.withUnsafeBufferPointer { qBuf in
        features.withUnsafeBufferPointer { fBuf in
        yq.withUnsafeBufferPointer { yBuf in
        best.withUnsafeMutableBufferPointer { bestBuf in
        dot.shift.withUnsafeBufferPointer { shiftBuf in
        dot.rowTerm.withUnsafeBufferPointer { rowTermBuf in
        dot.residual.withUnsafeBufferPointer { residualBuf in
        groups.order.withUnsafeBufferPointer { slotRow in
            let qBase = qBuf.baseAddress!, fBase = fBuf.baseAddress!, bestOut = bestBuf.baseAddress!
            Parallel.forEach(iterations: (m + queryBlock - 1) / queryBlock) { block in
                let lo = block * queryBlock, rows = min(queryBlock, m - lo)
                let codesQ = UnsafeMutablePointer<UInt8>.allocate(capacity: rows * codeBytes)
                let queryTerm = UnsafeMutablePointer<Int32>.allocate(capacity: rows)
                let table = UnsafeMutablePointer<Float>.allocate(capacity: together * tableBlocks * 16)
                // + 16: pc_indices_within stores whole vectors.
                let survivors = UnsafeMutablePointer<Int32>.allocate(capacity: tableBlocks * 16 + 16)
                let survivorRows = UnsafeMutablePointer<Int32>.allocate(capacity: tableBlocks * 16)
                let direct = UnsafeMutablePointer<Float>.allocate(capacity: tableBlocks * 16)
                // The group rule's left side (see `CodeGroups`) per query and group: computed as (k, j) for 4 queries
                // r0.., then kept as (j, k), so that one vector holds group j's 4 values.
                let centreTable = UnsafeMutablePointer<Float>.allocate(capacity: together * centreStride)
                let gap = UnsafeMutablePointer<SIMD4<Float>>.allocate(capacity: (rows + together - 1) / together * centreStride)
                // The slots of each query's nearest group, scanned first and skipped afterwards.
                var seedSlots = [Range<Int>](repeating: 0..<0, count: rows)
                defer {
                    codesQ.deallocate(); queryTerm.deallocate(); table.deallocate(); survivors.deallocate()
                    survivorRows.deallocate(); direct.deallocate(); centreTable.deallocate(); gap.deallocate()
                }
                var smallest = [Int32](repeating: -1, count: together)
                var bestS = [Float](repeating: .infinity, count: rows)
                var bestI = [Int32](repeating: -1, count: rows)
                var reach = [Float](repeating: .infinity, count: rows)       // c of the rule above
                var roundingE = [Float](repeating: 0, count: rows), residualQ = [Float](repeating: 0, count: rows)
                @inline(__always) func consider(_ r: Int, _ i: Int32, _ s: Float) {
                    if s < bestS[r] || (s == bestS[r] && i < bestI[r]) {
                        bestS[r] = s; bestI[r] = i
                        reach[r] = QuantizedBankIndex.reach(squaredDistance: s, rounding: roundingE[r],
                                                            queryResidual: residualQ[r])
                    }
                }
                @inline(__always) func offer(_ r: Int, _ i: Int32) {
                    consider(r, i, pc_squared_distance(qBase + (lo + r) * d, fBase + Int(i) * d, d))
                }
                /// Queries r0..<r0 + nq against the slots of blocks [firstBlock, endBlock).
                func scan(_ r0: Int, _ nq: Int, blocks firstBlock: Int, _ endBlock: Int) {
                    let first = firstBlock * 16, stride = (endBlock - firstBlock) * 16
                    let slots = min(n, endBlock * 16) - first
                    smallest.withUnsafeMutableBufferPointer { sm in
                        pc_int8_dot_table(index.codes.codes, index.codes.groups, shiftBuf.baseAddress!,
                                          codesQ + r0 * codeBytes, nq, queryTerm + r0, rowTermBuf.baseAddress!,
                                          dot.unit2, firstBlock, endBlock, n, table, stride, sm.baseAddress!)
                    }
                    for k in 0..<nq {
                        let r = r0 + k, values = table + k * stride
                        // The run's nearest code is a first neighbour unless the rule below already rules it out.
                        if smallest[k] >= 0 {
                            let t = reach[r] + residualBuf[Int(smallest[k])]
                            if values[Int(smallest[k]) - first] <= t * t { offer(r, slotRow[Int(smallest[k])]) }
                        }
                        let within = pc_indices_within(values, residualBuf.baseAddress! + first, slots, reach[r], survivors)
                        // Their direct distances in one call (the rows' memory fetched ahead), then the nearest; the
                        // query's first group was measured already.
                        var found = 0
                        let seed = seedSlots[r]
                        for j in 0..<within {
                            let slot = first + Int(survivors[j])
                            if !seed.contains(slot) { survivorRows[found] = slotRow[slot]; found += 1 }
                        }
                        pc_squared_distances(qBase + (lo + r) * d, fBase, d, survivorRows, found, 0, direct)
                        for j in 0..<found { consider(r, survivorRows[j], direct[j]) }
                    }
                }
                var r0 = 0
                while r0 < rows {
                    let nq = min(together, rows - r0)
                    for k in 0..<nq {
                        let (term, residual) = index.codes.dotQuery(yBuf.baseAddress! + (lo + r0 + k) * width,
                                                                    into: codesQ + (r0 + k) * codeBytes)
                        queryTerm[r0 + k] = term; residualQ[r0 + k] = residual
                        roundingE[r0 + k] = index.roundingBound(query: qBase + (lo + r0 + k) * d)
                    }
                    pc_int8_dot_table(centres.codes, centres.groups, shiftBuf.baseAddress!, codesQ + r0 * codeBytes, nq,
                                      queryTerm + r0, centreForm.rowTerm, centreForm.unit2, 0,
                                      centreStride / 16, g, centreTable, centreStride, &smallest)
                    for k in 0..<together {
                        let row = centreTable + k * centreStride
                        // A last partial 4's missing queries get +infinity: they need no group.
                        if k >= nq { row.update(repeating: .infinity, count: g); continue }
                        for j in 0..<g { row[j] = row[j].squareRoot() * (1 - 1e-5) - spread[j] }
                    }
                    let gaps = gap + r0 / together * centreStride
                    let (t0, t1, t2, t3) = (centreTable, centreTable + centreStride, centreTable + 2 * centreStride,
                                            centreTable + 3 * centreStride)
                    for j in 0..<g { gaps[j] = SIMD4(t0[j], t1[j], t2[j], t3[j]) }
                    // First neighbours: the previous query's (patches come in raster order), then with several
                    // groups the rows of the query's nearest one.
                    for k in 0..<nq {
                        let r = r0 + k
                        if r > 0, bestI[r - 1] >= 0 { offer(r, bestI[r - 1]) }
                        guard g > 1 else { continue }
                        let j0 = Int(smallest[k])
                        scan(r, 1, blocks: starts[j0] / 16, (starts[j0 + 1] + 15) / 16)
                        seedSlots[r] = starts[j0]..<starts[j0 + 1]
                    }
                    r0 += nq
                }
                for tile in tiles {
                    r0 = 0
                    while r0 < rows {
                        let nq = min(together, rows - r0)
                        // Runs of consecutive blocks over the groups some query of the 4 cannot rule out (by the
                        // reach found so far, which only shrinks).
                        var runFirst = -1, runEnd = -1
                        var reach4 = SIMD4<Float>(repeating: -.infinity)
                        for k in 0..<nq { reach4[k] = reach[r0 + k] }
                        let gaps = gap + r0 / together * centreStride
                        for j in tile {
                            guard any(gaps[j] .<= reach4) else { continue }
                            let first = starts[j] / 16, end = (starts[j + 1] + 15) / 16
                            if runFirst >= 0, first <= runEnd {
                                runEnd = max(runEnd, end)
                            } else {
                                if runFirst >= 0 {
                                    scan(r0, nq, blocks: runFirst, runEnd)
                                    for k in 0..<nq { reach4[k] = reach[r0 + k] }
                                }
                                runFirst = first; runEnd = end
                            }
                        }
                        if runFirst >= 0 { scan(r0, nq, blocks: runFirst, runEnd) }
                        r0 += nq
                    }
                }
                for r in 0..<rows { bestOut[lo + r] = bestI[r] }
            }
        }}}}}}}}
        return best
    }
}
