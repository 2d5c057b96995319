import TensorCore

/// Approximate greedy coreset (k-centre greedy) of the PatchCore paper (Roth et al. 2022, Alg. 1), with the
/// semantics of patchcore-inspection's `ApproximateGreedyCoresetSampler` except for one seeded start point
/// (as the reference runs in REFERENCE.md) instead of ten averaged starting points.
///
/// Notation: features m_i (N,D); psi = random projection D -> d' (d' = `projectionDimension`);
/// M_C = selected set. Loop: pick m* = argmax_i min_{c in M_C} ||psi(m_i) - psi(c)||, add it to M_C.
///
/// Steps of `select`:
///  1. SplitMix64(seed): the first draw gives the start index (`next() % N`).
///  2. If D > `projectionDimension`, the next draws give a Gaussian projection P (D, d')
///     (`RandomProjection.gaussian`) and features are projected; if D <= `projectionDimension` the features
///     are used as they are (no projection is drawn), like patchcore-inspection when D == d'.
///  3. Greedy picks, by the exact accelerated algorithm (`AcceleratedGreedyCoreset`: cluster/triangle pruning
///     plus certified lower bounds from a PCA-rotated copy, `RotatedLowerBounds`); it returns the same indices
///     as the plain dense algorithm (`PlainGreedyCoreset`, kept as reference). The rotated copy costs another
///     N x D floats of memory while selecting.
///
/// Coreset size: `Int(Double(N) * ratio)` (truncation, as `int(len(features) * percentage)` in
/// patchcore-inspection and anomalib), at least 1; ratio >= 1 returns all indices `0..<N` in order.
/// The first index is the seeded start; indices are unique; picks are in greedy order.
///
/// ```swift
/// let sampler = GreedyCoresetSampler(ratio: 0.1, seed: 0)
/// let picks = try sampler.select(from: bank /* (163856,128) */) { done, total in print(done, total) }
/// let coreset = try MemoryBank(features: fullBank.rows(picks))
/// ```
public struct GreedyCoresetSampler: Sendable, Equatable, Codable {
    /// Fraction of the rows to keep, in (0, 1].
    public var ratio: Double
    /// d': dimension of the random projection; no projection when D <= d'.
    public var projectionDimension: Int = 128
    /// Seed of the start point and of the projection.
    public var seed: UInt64
    /// Worker threads of the greedy update (1 = single thread).
    public var threads: Int = 2

    enum CodingKeys: String, CodingKey {
        case ratio, seed, threads
        case projectionDimension = "projection_dimension"
    }

    public init(ratio: Double, projectionDimension: Int = 128, seed: UInt64 = 0, threads: Int = 2) {
        self.ratio = ratio
        self.projectionDimension = projectionDimension
        self.seed = seed
        self.threads = threads
    }

    /// Number of picks for N rows: `Int(Double(N) * ratio)` clamped to 1...N.
    public func coresetSize(rows n: Int) -> Int {
        if ratio >= 1 { return n }
        return min(n, max(1, Int(Double(n) * ratio)))
    }

    /// Coreset indices into the rows of `features` (N,D), in greedy order.
    /// Throws `MemoryBankError` on bad input and `CancellationError` if the surrounding task is cancelled.
    /// `progress(done, total)` is called about every 1% of the picks and at the end.
    public func select(from features: Tensor, progress: ((Int, Int) -> Void)? = nil) throws -> [Int] {
        try select(from: features, projection: nil, progress: progress)
    }

    /// `select` with an explicit projection P (D, d') instead of the seeded one (e.g. to reproduce another
    /// implementation's picks); the start point still comes from the seed. P is ignored when D <= d'.
    public func select(from features: Tensor, projection: Tensor?, progress: ((Int, Int) -> Void)? = nil) throws -> [Int] {
        let (reduced, start, count) = try prepare(features, projection: projection)
        if count == features.shape[0] && ratio >= 1 { return Array(0..<count) }
        return try AcceleratedGreedyCoreset.select(reduced, start: start, count: count,
                                                   threads: max(1, threads), progress: progress)
    }

    /// `count` greedy picks (1...N) instead of the ratio's, from the same seeded start and projection.
    public func select(from features: Tensor, count: Int, progress: ((Int, Int) -> Void)? = nil) throws -> [Int] {
        let (reduced, start, _) = try prepare(features, projection: nil)
        guard count >= 1, count <= features.shape[0] else {
            throw MemoryBankError.invalidArgument(name: "coreset count", value: "\(count)",
                                                  expected: "1...\(features.shape[0]) (the rows given)")
        }
        return try AcceleratedGreedyCoreset.select(reduced, start: start, count: count,
                                                   threads: max(1, threads), progress: progress)
    }

    /// Same picks by the plain dense algorithm (reference; O(N D) per pick).
    public func selectPlain(from features: Tensor, projection: Tensor? = nil) throws -> [Int] {
        let (reduced, start, count) = try prepare(features, projection: projection)
        if count == features.shape[0] && ratio >= 1 { return Array(0..<count) }
        return PlainGreedyCoreset.select(reduced, start: start, count: count)
    }

    /// The accelerated greedy picks on already reduced features x (N,d) from a given start (no projection).
    ///
    /// ```swift
    /// let picks = try GreedyCoresetSampler.selectReduced(x, start: 0, count: 100)
    /// ```
    public static func selectReduced(_ x: Tensor, start: Int, count: Int, threads: Int = 2,
                                     progress: ((Int, Int) -> Void)? = nil) throws -> [Int] {
        guard x.rank == 2, x.shape[0] >= 1, x.shape[1] >= 1 else {
            throw MemoryBankError.badShape(tensor: "coreset features", expected: "(N,D) with N >= 1", actual: x.shape)
        }
        guard start >= 0, start < x.shape[0], count >= 1, count <= x.shape[0] else {
            throw MemoryBankError.invalidArgument(name: "start/count", value: "\(start)/\(count)",
                                                  expected: "0 <= start < N and 1 <= count <= N = \(x.shape[0])")
        }
        return try AcceleratedGreedyCoreset.select(x, start: start, count: count, threads: max(1, threads), progress: progress)
    }

    /// Validates input and settings, draws the start point and projection; returns (features', start, count).
    public func prepare(_ features: Tensor, projection: Tensor?) throws(MemoryBankError) -> (reduced: Tensor, start: Int, count: Int) {
        guard ratio > 0, ratio.isFinite else {
            throw .invalidArgument(name: "coreset ratio", value: "\(ratio)", expected: "a fraction in (0, 1]")
        }
        guard projectionDimension >= 1 else {
            throw .invalidArgument(name: "projection_dimension", value: "\(projectionDimension)", expected: ">= 1")
        }
        guard features.rank == 2, features.shape[0] >= 1, features.shape[1] >= 1 else {
            throw .badShape(tensor: "coreset features", expected: "(N,D) with N >= 1, D >= 1", actual: features.shape)
        }
        let n = features.shape[0], d = features.shape[1]
        var rng = SplitMix64(seed: seed)
        let start = Int(rng.next() % UInt64(n))
        guard d > projectionDimension else { return (features, start, coresetSize(rows: n)) }
        let p: Tensor
        if let projection {
            guard projection.shape == [d, projectionDimension] else {
                throw .badShape(tensor: "coreset projection", expected: "(\(d),\(projectionDimension))",
                                actual: projection.shape)
            }
            p = projection
        } else {
            p = RandomProjection.gaussian(inputDimension: d, outputDimension: projectionDimension, rng: &rng)
        }
        return (RandomProjection.project(features, with: p), start, coresetSize(rows: n))
    }
}
