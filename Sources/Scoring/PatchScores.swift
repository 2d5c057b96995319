import TensorCore

/// How a patch's anomaly score is read from its k nearest bank distances.
public enum PatchScoreRule: String, Sendable, Codable, Equatable {
    /// Distance to the nearest bank feature, s = min_m ||f - m|| (paper Eq. 6, anomalib; k = 1).
    case nearest
    /// Mean of the k nearest distances (patchcore-inspection `NearestNeighbourScorer.predict` with
    /// `anomaly_scorer_num_nn = k`; equals `nearest` for k = 1).
    case meanOfNearest = "mean_of_nearest"
}

/// Patch scores (M) from k-NN results distances (M, k).
///
/// ```swift
/// let nn = try bank.nearestNeighbours(of: features, k: 1)
/// let scores = try patchScores(nn, rule: .nearest)   // [Float], one per patch row
/// ```
public func patchScores(_ nn: NearestNeighbours, rule: PatchScoreRule = .nearest) throws -> [Float] {
    try nn.validate("k-NN result")
    let m = nn.queryCount, k = nn.k
    guard k >= 1 else { throw ScoringError.shapeMismatch(what: "k-NN distances", expected: "(M, k>=1)", actual: nn.distances.shape) }
    return (0..<m).map { i in
        switch rule {
        case .nearest:
            return nn.distances.scalars[i * k]
        case .meanOfNearest:
            var acc: Float = 0
            for j in 0..<k { acc += nn.distances.scalars[i * k + j] }
            return acc / Float(k)
        }
    }
}
