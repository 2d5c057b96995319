import TensorCore

/// Approximate nearest-neighbour search, opt-in and never the default: an inverted-file index (faiss's
/// IndexIVFFlat). k-means splits the bank rows into `lists` lists; a query visits only the rows of the `probes`
/// lists whose centroids are nearest to it, so a search costs about probes / lists of an exact one. A true
/// neighbour in a list that was not probed is missed: measure recall@1 and the AUROC change against exact
/// search on your data before relying on it (bench/RESULTS.md has the measured figures).
/// Written here: no listed Swift package provides an IVF index.
///
/// ```swift
/// let approx = try bank.withInvertedFileIndex(probes: 8)   // lists: sqrt(N) by default
/// let (d, i) = approx.nearest(to: patchFeatures, k: 1)     // now searches 8 of the sqrt(N) lists
/// ```
public struct InvertedFileIndex: Sendable {
    /// Number of k-means lists.
    public var lists: Int { groups.count }
    /// Lists visited per query (at most `lists`).
    public let probes: Int
    /// The lists: rows in list order, centroids as centres (radii unused here).
    let groups: BankGroups

    /// The same lists with another probe count (1...lists), without training again.
    func probing(_ probes: Int) -> InvertedFileIndex {
        InvertedFileIndex(groups: groups, probes: max(1, min(probes, groups.count)))
    }

    private init(groups: BankGroups, probes: Int) { self.groups = groups; self.probes = probes }

    /// Lists for a bank of n rows when none is given: round(sqrt(n)), so a list holds about sqrt(n) rows (faiss
    /// suggests 4 sqrt(n) to 16 sqrt(n) for one query at a time; an image's thousands of queries share each list's
    /// product, and larger lists make those products efficient).
    public static func defaultLists(rows n: Int) -> Int { max(1, Int(Double(n).squareRoot().rounded())) }

    /// The `probes` lists of each of `count` query rows (count * probes list indices, nearest first): the smallest
    /// ||c||^2 - 2 q.c over the centroids of the non-empty lists, ties to the smaller list index (-1 in the slots
    /// left over when fewer lists than probes hold rows).
    func probedLists(of queries: UnsafePointer<Float>, count mc: Int, dimension d: Int) -> [Int32] {
        let l = groups.count
        var probed = [Int32](repeating: -1, count: mc * probes)
        var coarse = [Float](repeating: 0, count: mc * l)
        var keys = [Float](repeating: 0, count: probes)
        groups.centres.withUnsafeBufferPointer { c in
            coarse.withUnsafeMutableBufferPointer { out in
                sgemm(transposeA: false, transposeB: true, m: mc, n: l, k: d, alpha: -2, a: queries, lda: d,
                      b: c.baseAddress!, ldb: d, beta: 0, c: out.baseAddress!, ldc: l)
            }
        }
        for r in 0..<mc {
            let out = r * probes
            for p in 0..<probes { keys[p] = .infinity }
            for j in 0..<l where groups.starts[j + 1] > groups.starts[j] {
                let key = groups.centreNorms[j] + coarse[r * l + j]
                // Sorted insertion; ties keep the smaller list index; empty slots (-1) fill first.
                if !(key < keys[probes - 1]) && probed[out + probes - 1] >= 0 { continue }
                var p = probes - 1
                while p > 0 && (key < keys[p - 1] || probed[out + p - 1] < 0) {
                    keys[p] = keys[p - 1]; probed[out + p] = probed[out + p - 1]; p -= 1
                }
                keys[p] = key; probed[out + p] = Int32(j)
            }
        }
        return probed
    }

    /// Queries searched together (from the shapes only, never the thread count): each list's rows are multiplied
    /// once by the block's queries that probe it, so larger blocks make larger products; at least 8 blocks of 256
    /// or more keep the workers busy; a block's centroid distances and probe lists stay within 16 MiB.
    static func queryBlock(queries m: Int, lists: Int, probes: Int) -> Int {
        let byMemory = max(1, (16 << 20) / (4 * (lists + probes)))
        return min(byMemory, max(256, min(4096, m / 8 / 64 * 64)))
    }

    /// k-means iterations (faiss's default for IVF training is 10 as well).
    static let iterations = 10
    /// Training rows per list: k-means runs on a seeded sample of at most this many rows per list.
    static let trainingRowsPerList = 64

    init(features: Tensor, norms: [Float], lists: Int, probes: Int, seed: UInt64) {
        let centres = InvertedFileIndex.kMeans(features, lists: lists, seed: seed)
        let assignment = nearestCentre(of: features, among: centres).indices
        groups = BankGroups(features: features, norms: norms, assignment: assignment, centres: centres)
        self.probes = min(probes, lists)
    }

    /// Lloyd's k-means on a seeded sample of the rows: the first `lists` sample rows start as centroids; a list
    /// left empty takes the sample row farthest from its own centroid.
    static func kMeans(_ x: Tensor, lists: Int, seed: UInt64) -> Tensor {
        let n = x.shape[0], d = x.shape[1]
        var rng = SplitMix64(seed: seed)
        var order = Array(0..<n)
        let sampleCount = min(n, lists * trainingRowsPerList)
        for i in 0..<sampleCount { order.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
        let sample = x.gatherRows(Array(order[0..<sampleCount]))
        var centres = sample.rows(0..<lists).scalars
        sample.withUnsafeBufferPointer { s in
            for _ in 0..<iterations {
                let (dist, assign) = nearestCentre(of: sample, among: Tensor(shape: [lists, d], scalars: centres))
                var sums = [Double](repeating: 0, count: lists * d)
                var counts = [Int](repeating: 0, count: lists)
                for i in 0..<sampleCount {
                    let j = Int(assign[i])
                    counts[j] += 1
                    for c in 0..<d { sums[j * d + c] += Double(s[i * d + c]) }
                }
                // Empty lists restart at the sample rows farthest from their centroids, each row used once.
                var farthest = Array(0..<sampleCount)
                if counts.contains(0) { farthest.sort { dist[$0] > dist[$1] || (dist[$0] == dist[$1] && $0 < $1) } }
                var next = 0
                for j in 0..<lists {
                    if counts[j] > 0 {
                        for c in 0..<d { centres[j * d + c] = Float(sums[j * d + c] / Double(counts[j])) }
                    } else {
                        let row = farthest[next]; next += 1
                        for c in 0..<d { centres[j * d + c] = s[row * d + c] }
                    }
                }
            }
        }
        return Tensor(shape: [lists, d], scalars: centres)
    }
}

/// Squared distance to and index of the nearest centre (exact search over the centres) of every row of x.
private func nearestCentre(of x: Tensor, among centres: Tensor) -> (squaredDistances: [Float], indices: [Int32]) {
    let bank = MemoryBank(validFeatures: centres)
    let r = bank.nearest(to: x, k: 1)
    return (r.distances.scalars.map { $0 * $0 }, r.indices)
}

extension MemoryBank {
    /// This bank with an inverted-file index: `nearest(to:k:)` then searches only the `probes` nearest of
    /// `lists` k-means lists per query (approximate; see `InvertedFileIndex`). Deterministic for a given seed.
    ///
    /// - Throws: `invalidArgument` unless 1 <= lists <= N and probes >= 1.
    public func withInvertedFileIndex(lists: Int? = nil, probes: Int, seed: UInt64 = 0) throws(MemoryBankError) -> MemoryBank {
        let l = lists ?? InvertedFileIndex.defaultLists(rows: count)
        guard l >= 1, l <= count else {
            throw .invalidArgument(name: "lists", value: "\(l)", expected: "1...\(count) (the bank's row count)")
        }
        guard probes >= 1 else {
            throw .invalidArgument(name: "probes", value: "\(probes)", expected: ">= 1 (lists visited per query)")
        }
        var copy = self
        copy.invertedFile = InvertedFileIndex(features: features, norms: squaredNorms, lists: l, probes: probes, seed: seed)
        return copy
    }

    /// This bank with its inverted-file index probing `probes` lists per query (the lists are kept, no training);
    /// unchanged when the bank has no index.
    public func probing(_ probes: Int) -> MemoryBank {
        var copy = self
        copy.invertedFile = invertedFile?.probing(probes)
        return copy
    }

    /// Candidates from the probed lists (same selection rule as the exact routes); a query whose probed lists
    /// hold fewer than k rows gets the exact linear search instead, and so do all queries when every list is
    /// probed. k <= N, M >= 1.
    func invertedFileCandidates(_ queries: Tensor, k: Int, index: InvertedFileIndex) -> [Int32] {
        let m = queries.shape[0], d = dimension
        let lists = index.groups, l = lists.count, probes = index.probes
        // Every list probed is every row: the exact search gives the same neighbours for less work.
        if probes >= l { return linearCandidates(queries, k: k, tileBytes: Self.defaultTileBytes) }
        var bestS = [Float](repeating: .infinity, count: m * k)
        var bestI = [Int32](repeating: -1, count: m * k)
        queries.withUnsafeBufferPointer { qBuf in
        lists.rows.withUnsafeBufferPointer { rowsBuf in
        lists.norms.withUnsafeBufferPointer { normsBuf in
        lists.original.withUnsafeBufferPointer { origBuf in
        bestS.withUnsafeMutableBufferPointer { sBuf in
        bestI.withUnsafeMutableBufferPointer { iBuf in
            let q = qBuf.baseAddress!, s = sBuf.baseAddress!, ix = iBuf.baseAddress!
            // Fixed blocks of queries, each searched with single-threaded products, shared among the workers: a
            // block's products, hence every rounding, do not depend on the thread count.
            let block = InvertedFileIndex.queryBlock(queries: m, lists: l, probes: probes)
            ComputeThreads.withSingleThreadedBLAS {
            Parallel.chunks(count: (m + block - 1) / block) { blocks in
            for blockIndex in blocks {
                let range = (blockIndex * block)..<min(m, (blockIndex + 1) * block)
                let mc = range.count
                let probed = index.probedLists(of: q + range.lowerBound * d, count: mc, dimension: d)
                // 2. Queries per list (counting sort of the probes), so each list's rows are read once per block.
                var starts = [Int](repeating: 0, count: l + 1)
                for j in probed where j >= 0 { starts[Int(j) + 1] += 1 }
                for j in 0..<l { starts[j + 1] += starts[j] }
                var fill = starts
                var members = [Int32](repeating: 0, count: starts[l])
                for (slot, j) in probed.enumerated() where j >= 0 {
                    members[fill[Int(j)]] = Int32(range.lowerBound + slot / probes); fill[Int(j)] += 1
                }
                // 3. Per list: gather its queries, one product against the list's rows, select.
                var gathered = [Float](repeating: 0, count: 0)
                var tile = [Float](repeating: 0, count: 0)
                for j in 0..<l where starts[j + 1] > starts[j] {
                    let g0 = lists.starts[j], size = lists.starts[j + 1] - g0
                    if size == 0 { continue }
                    let chunk = max(1, min(starts[j + 1] - starts[j], MemoryBank.defaultTileBytes / (4 * size)))
                    if gathered.count < chunk * d { gathered = [Float](repeating: 0, count: chunk * d) }
                    if tile.count < chunk * size { tile = [Float](repeating: 0, count: chunk * size) }
                    var c0 = starts[j]
                    while c0 < starts[j + 1] {
                        let cn = min(chunk, starts[j + 1] - c0)
                        gathered.withUnsafeMutableBufferPointer { gBuf in
                        tile.withUnsafeMutableBufferPointer { tBuf in
                            let g = gBuf.baseAddress!, t = tBuf.baseAddress!
                            for r in 0..<cn {
                                (g + r * d).update(from: q + Int(members[c0 + r]) * d, count: d)
                            }
                            sgemm(transposeA: false, transposeB: true, m: cn, n: size, k: d, alpha: -2,
                                  a: g, lda: d, b: rowsBuf.baseAddress! + g0 * d, ldb: d, beta: 0, c: t, ldc: size)
                            for r in 0..<cn {
                                let dst = Int(members[c0 + r]) * k
                                selectIndexed(row: t + r * size, norms: normsBuf.baseAddress! + g0,
                                              original: origBuf.baseAddress! + g0, count: size, k: k,
                                              best: s + dst, bestIndex: ix + dst)
                            }
                        }}
                        c0 += cn
                    }
                }
            }}}
        }}}}}}
        // Fewer than k rows in a query's probed lists: that query gets the exact answer.
        let short = (0..<m).filter { bestI[$0 * k + k - 1] < 0 }
        if !short.isEmpty {
            let exact = linearCandidates(queries.gatherRows(short), k: k, tileBytes: Self.defaultTileBytes)
            for (n, r) in short.enumerated() { for j in 0..<k { bestI[r * k + j] = exact[n * k + j] } }
        }
        return bestI
    }
}
