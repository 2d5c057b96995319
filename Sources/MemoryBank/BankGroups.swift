import TensorCore

/// A partition of the bank rows into G groups, each with a centre and a radius, with the rows copied in group
/// order. Exact search builds it by greedy k-centre on the bank itself and skips whole groups for a block of
/// queries: for every bank row b of group g, ||q - b|| >= ||q - centre_g|| - radius_g. The approximate
/// inverted-file search (`InvertedFileIndex`) builds it from k-means and visits only the nearest groups.
///
/// rows (N,D) in group order, groups contiguous, rows of a group in increasing original index.
struct BankGroups: Sendable {
    let count: Int                 // G
    let rows: [Float]              // (N,D) bank rows in group order
    let norms: [Float]             // (N) squared norms of `rows`
    let original: [Int32]          // (N) original bank index of each row of `rows`
    let starts: [Int]              // (G+1) first row of each group
    let centres: [Float]           // (G,D) centre rows
    let centreNorms: [Float]       // (G)
    let radius: [Float]            // (G) max member-centre distance, widened by 1e-4 relative
    let maxNorm: Float             // max squared norm of a bank row

    /// Group count used for a bank of n rows: 1 (no grouping) below 1,024 rows, else n/64 capped at 256.
    static func groupCount(rows n: Int) -> Int { n < 1024 ? 1 : min(256, n / 64) }

    /// Greedy k-centre groups (`groupCount(rows:)` of them), centres are bank rows.
    init(features: Tensor, norms bankNorms: [Float]) {
        let n = features.shape[0], d = features.shape[1]
        let g = BankGroups.groupCount(rows: n)
        var assign = [Int32](repeating: 0, count: n)
        var centreRows = [0]
        var dist2 = [Float](repeating: 0, count: n)
        features.withUnsafeBufferPointer { f in
            let base = f.baseAddress!
            for i in 0..<n { dist2[i] = squaredDistance(base + i * d, base, d) }
            // Greedy k-centre: the next centre is the row farthest from all centres so far.
            for c in 1..<max(1, g) {
                var far = 0
                for i in 1..<n where dist2[i] > dist2[far] { far = i }
                centreRows.append(far)
                let cp = base + far * d
                for i in 0..<n {
                    let s = squaredDistance(base + i * d, cp, d)
                    if s < dist2[i] { dist2[i] = s; assign[i] = Int32(c) }
                }
            }
        }
        self.init(features: features, norms: bankNorms, assignment: assign, centres: features.gatherRows(centreRows))
    }

    /// Groups from a given assignment of every row (values in 0..<G) and the G centres (G,D).
    init(features: Tensor, norms bankNorms: [Float], assignment assign: [Int32], centres: Tensor) {
        let n = features.shape[0], d = features.shape[1], g = centres.shape[0]
        // Counting sort by group (stable: original order inside a group).
        var starts = [Int](repeating: 0, count: g + 1)
        for a in assign { starts[Int(a) + 1] += 1 }
        for j in 0..<g { starts[j + 1] += starts[j] }
        var fill = starts
        var original = [Int32](repeating: 0, count: n)
        for i in 0..<n { original[fill[Int(assign[i])]] = Int32(i); fill[Int(assign[i])] += 1 }
        let rows = features.gatherRows(original.map(Int.init)).scalars
        var norms = [Float](repeating: 0, count: n)
        var radius = [Float](repeating: 0, count: g)
        let centreScalars = centres.scalars
        centreScalars.withUnsafeBufferPointer { c in
            rows.withUnsafeBufferPointer { r in
                for j in 0..<g {
                    for row in starts[j]..<starts[j + 1] {
                        norms[row] = bankNorms[Int(original[row])]
                        let s = squaredDistance(r.baseAddress! + row * d, c.baseAddress! + j * d, d)
                        radius[j] = max(radius[j], s.squareRoot())
                    }
                }
            }
        }
        self.count = g
        self.rows = rows; self.norms = norms; self.original = original; self.starts = starts
        self.centres = centreScalars; self.centreNorms = rowSquaredNorms(centres)
        self.radius = radius.map { $0 * 1.0001 }
        self.maxNorm = bankNorms.max() ?? 0
    }
}
