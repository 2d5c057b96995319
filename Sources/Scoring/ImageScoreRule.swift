import TensorCore

/// How an image score is made from its patches. Default: the paper's reweighting (anomalib).
public enum ImageScoreRule: Sendable, Codable, Equatable {
    /// Largest patch score (patchcore-inspection; anomalib with num_neighbors = 1).
    case maxPatch
    /// Paper Eq. 7 / anomalib `compute_anomaly_score`, see `NeighbourhoodReweighting`.
    case reweighted(numNeighbours: Int)

    public static let `default` = ImageScoreRule.reweighted(numNeighbours: 9)

    /// Scores of N images.
    /// - Parameters:
    ///   - features: (N * P, D) patch features, rows (n, y, x).
    ///   - nearest: their k-NN result against `bank`.
    ///   - patchRule: how patch scores come from the k distances (`maxPatch` only; the reweighted rule
    ///     always uses the nearest distance, as anomalib).
    ///
    /// ```swift
    /// let scores = try ImageScoreRule.default.imageScores(features: f, nearest: nn, patchesPerImage: 784, bank: bank)
    /// ```
    public func imageScores(features: Tensor, nearest: NearestNeighbours, patchesPerImage: Int,
                            bank: some NearestNeighbourSearch, patchRule: PatchScoreRule = .nearest) throws -> [Float] {
        switch self {
        case let .reweighted(b):
            return try NeighbourhoodReweighting(numNeighbours: b)
                .imageScores(features: features, nearest: nearest, patchesPerImage: patchesPerImage, bank: bank)
        case .maxPatch:
            let scores = try patchScores(nearest, rule: patchRule)
            guard patchesPerImage > 0, scores.count % patchesPerImage == 0 else {
                throw ScoringError.shapeMismatch(what: "patch scores", expected: "a multiple of \(patchesPerImage) rows",
                                                 actual: [scores.count])
            }
            return try stride(from: 0, to: scores.count, by: patchesPerImage).map {
                try maxPatchScore(Array(scores[$0..<($0 + patchesPerImage)])).score
            }
        }
    }
}
