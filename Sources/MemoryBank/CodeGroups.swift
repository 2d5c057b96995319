import CVectorMath
import TensorCore

/// Groups of nearby bank rows for the quantized exact search (`QuantizedBankIndex`): the codes are stored group
/// after group (slot s holds bank row `order[s]`), and each group has a centre coded on the codes' grid and a
/// spread, so that one code distance per query and group can rule a whole group out:
///     for every member b of group j, ||ŷ_q - ŷ_b|| >= ||ŷ_q - ĉ_j|| - R_j,
/// with ŷ the decoded codes (the dot form's distance is the Euclidean one between them) and R_j the largest code
/// distance from the centre to a member. A member survives the search's rule only if ||ŷ_q - ŷ_b|| <= c + rho_b,
/// so the group holds no survivor when ||ŷ_q - ĉ_j|| - R_j - max rho_b > c (`gap` against the rule's c).
///
/// The groups are Voronoi cells of the rotated coordinates around centres picked by greedy k-centre on an even
/// sample of the rows. Any grouping is exact; only how much it rules out depends on it.
struct CodeGroups {
    /// (count) bank row of each slot.
    let order: [Int32]
    /// (G + 1) first slot of each group, ascending; group j holds slots starts[j]..<starts[j + 1] (never empty).
    let starts: [Int]
    /// (G) the centres, coded on the bank codes' grid (their dot form: codes and row terms).
    let centres: Int8BoundCodes
    /// (G) R_j widened for rounding, plus the largest residual rho_b of the group's members.
    let spread: [Float]

    var count: Int { starts.count - 1 }

    /// How many groups a bank of n rows gets: one below 2,048 rows, else about 128 rows a group, at most 384.
    /// Measured on the 50,000-row bank at 1,000 x 1,000 and Magnetic Tile's 54,802 rows (`CoresetBench exact`,
    /// bench/RESULTS.md): 256-512 groups are best on both; 1,024 and 2,048 lose it again in the per-query centre
    /// distances and the shorter runs.
    static func groupCount(rows n: Int) -> Int { n < 2048 ? 1 : min(384, n / 128) }

    /// The slot order of n rows of rotated coordinates y (n, width): rows of one group together, groups in the
    /// order of their centres, rows of a group in bank order. Also returns the centres' coordinates (G, width).
    static func arrange(y: UnsafePointer<Float>, rows n: Int, width: Int) -> (order: [Int32], starts: [Int], centres: [Float]) {
        let wanted = groupCount(rows: n)
        if wanted <= 1 { return ((0..<n).map(Int32.init), [0, n], [Float](repeating: 0, count: width)) }
        // Greedy k-centre on an even sample of at most 8,192 rows: the next centre is the sample row farthest from
        // the centres so far.
        let step = max(1, n / 8192)
        let sample = Array(stride(from: 0, to: n, by: step))
        var nearest = sample.map { squaredDistance(y + $0 * width, y + sample[0] * width, width) }
        var picked = [sample[0]]
        while picked.count < min(wanted, sample.count) {
            var far = 0
            for i in 1..<sample.count where nearest[i] > nearest[far] { far = i }
            if nearest[far] == 0 { break }                       // every sample row is a centre already
            picked.append(sample[far])
            let c = y + sample[far] * width
            for i in 0..<sample.count { nearest[i] = min(nearest[i], squaredDistance(y + sample[i] * width, c, width)) }
        }
        let g = picked.count
        var centres = [Float](repeating: 0, count: g * width)
        for (j, row) in picked.enumerated() { for l in 0..<width { centres[j * width + l] = y[row * width + l] } }
        // Every row to its nearest centre by ||c||^2 - 2 y.c (sgemm in chunks; any assignment is exact, so the
        // expansion's rounding only moves a row between nearly equidistant centres).
        var centreNorms = [Float](repeating: 0, count: g)
        var transposed = [Float](repeating: 0, count: width * g)
        for j in 0..<g {
            for l in 0..<width {
                let v = centres[j * width + l]
                centreNorms[j] += v * v
                transposed[l * g + j] = v
            }
        }
        var assignment = [Int](repeating: 0, count: n)
        let chunk = 2048
        let products = UnsafeMutablePointer<Float>.allocate(capacity: chunk * g)
        defer { products.deallocate() }
        var lo = 0
        while lo < n {
            let rows = min(chunk, n - lo)
            transposed.withUnsafeBufferPointer { t in
                sgemm(m: rows, n: g, k: width, a: y + lo * width, lda: width, b: t.baseAddress!, ldb: g,
                      c: products, ldc: g)
            }
            for i in 0..<rows {
                let p = products + i * g
                var bestJ = 0, bestV = Float.infinity
                for j in 0..<g {
                    let v = centreNorms[j] - 2 * p[j]
                    if v < bestV { bestV = v; bestJ = j }
                }
                assignment[lo + i] = bestJ
            }
            lo += rows
        }
        // Counting sort by group (stable), empty groups dropped.
        var sizes = [Int](repeating: 0, count: g)
        for a in assignment { sizes[a] += 1 }
        let kept = (0..<g).filter { sizes[$0] > 0 }
        var slotOfGroup = [Int](repeating: 0, count: g), starts = [0]
        for j in kept { slotOfGroup[j] = starts.last!; starts.append(starts.last! + sizes[j]) }
        var order = [Int32](repeating: 0, count: n)
        for i in 0..<n { order[slotOfGroup[assignment[i]]] = Int32(i); slotOfGroup[assignment[i]] += 1 }
        var keptCentres = [Float](repeating: 0, count: kept.count * width)
        for (k, j) in kept.enumerated() { for l in 0..<width { keptCentres[k * width + l] = centres[j * width + l] } }
        return (order, starts, keptCentres)
    }

    /// The groups of `codes` (stored in slot order) with `starts` and centres at `centreY` (G, width).
    init(order: [Int32], starts: [Int], centreY: [Float], width: Int, codes: Int8BoundCodes) {
        let g = starts.count - 1
        let form = codes.dot!
        self.order = order
        self.starts = starts
        centres = Int8BoundCodes(count: g, onGridOf: codes) { j, l in centreY[j * width + l] }
        let bytes = codes.groups * 4
        var spread = [Float](repeating: 0, count: g)
        var largest = 0
        for j in 0..<g { largest = max(largest, (starts[j + 1] + 15) / 16 - starts[j] / 16) }
        var table = [Float](repeating: 0, count: largest * 16)
        var query = [UInt8](repeating: 0, count: bytes)
        var smallest: Int32 = 0
        for j in 0..<g {
            // R_j: the largest dot-form distance from the centre (coded as a query is) to a member.
            let term = centreY.withUnsafeBufferPointer { c in
                query.withUnsafeMutableBufferPointer { codes.dotQuery(c.baseAddress! + j * width, into: $0.baseAddress!).term }
            }
            let first = starts[j] / 16, end = (starts[j + 1] + 15) / 16
            form.shift.withUnsafeBufferPointer { shift in
                form.rowTerm.withUnsafeBufferPointer { rowTerm in
                    pc_int8_dot_table(codes.codes, codes.groups, shift.baseAddress!, query, 1, [term],
                                      rowTerm.baseAddress!, form.unit2, first, end, codes.count, &table,
                                      (end - first) * 16, &smallest)
                }
            }
            var r2: Float = 0, rho: Float = 0
            for s in starts[j]..<starts[j + 1] {
                r2 = max(r2, table[s - first * 16])
                rho = max(rho, form.residual[s])
            }
            spread[j] = r2.squareRoot() * (1 + 1e-5) + rho
        }
        self.spread = spread
    }

    /// Consecutive groups up to `slots` slots together (a larger group alone): the bank tiles of the search.
    func tiles(slots: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var lo = 0
        for j in 0..<count where starts[j + 1] - starts[lo] > slots && j > lo {
            out.append(lo..<j)
            lo = j
        }
        out.append(lo..<count)
        return out
    }
}
