import Foundation
import TensorCore

/// PatchCore's image score with neighbourhood reweighting (paper Eq. 7), with the semantics of
/// anomalib `PatchcoreModel.compute_anomaly_score`.
///
/// Notation (paper -> code): m^test,* = the test patch with the largest patch score (`patch`),
/// s* = its nearest-neighbour distance (`score`), m* = its nearest bank feature (`nearest`),
/// N_b(m*) = the b = min(numNeighbours, bank size) nearest bank features *of m** (found by a bank
/// query with m*; m* itself is among them, normally first, at distance 0).
///
///     s = (1 - exp ||m^test,* - m*|| / sum_{m in N_b(m*)} exp ||m^test,* - m||) * s*
///
/// i.e. with d_j = ||m^test,* - N_b(m*)_j|| (j = 0 is the first returned neighbour of m*),
/// weight = 1 - softmax(d)_0 and s = weight * s*. Note the softmax is over plain (not negated)
/// distances, exactly as anomalib. Edge cases, as anomalib: `numNeighbours == 1` returns s* (plain
/// max); a bank of one row gives b = 1, softmax = [1] and s = 0 (anomalib does this for a batch of one
/// image; for larger batches its support search then returns shape (B,) instead of (B, 1) and the
/// softmax runs across the batch, weight 1/B; we keep the per-image result).
///
/// patchcore-inspection (the authors' code) does not reweight: its image score is the max patch
/// score (`maxPatchScore`), with patch scores optionally the mean of k distances
/// (`PatchScoreRule.meanOfNearest`).
///
/// ```swift
/// let rule = NeighbourhoodReweighting(numNeighbours: 9)
/// let nn = try bank.nearestNeighbours(of: features /*(P, D), one image*/, k: 1)
/// let s = try rule.imageScore(features: features, nearest: nn, bank: bank)
/// ```
public struct NeighbourhoodReweighting: Sendable, Codable, Equatable {
    /// b, anomalib `num_neighbors` (9 by default).
    public var numNeighbours: Int

    public init(numNeighbours: Int = 9) { self.numNeighbours = numNeighbours }

    enum CodingKeys: String, CodingKey { case numNeighbours = "num_neighbours" }

    /// Reweighted score of one image.
    /// - Parameters:
    ///   - features: (P, D) patch features of the image.
    ///   - nearest: its k-NN result against `bank` (k >= 1; column 0 is used).
    public func imageScore(features: Tensor, nearest: NearestNeighbours, bank: some NearestNeighbourSearch) throws -> Float {
        try imageScores(features: features, nearest: nearest, patchesPerImage: features.shape.first ?? 0, bank: bank)[0]
    }

    /// Reweighted scores of N images whose patch rows are consecutive.
    /// - Parameters:
    ///   - features: (N * P, D) patch features, rows (n, y, x).
    ///   - nearest: k-NN result of `features` against `bank`.
    ///   - patchesPerImage: P.
    public func imageScores(features: Tensor, nearest: NearestNeighbours, patchesPerImage: Int,
                            bank: some NearestNeighbourSearch) throws -> [Float] {
        guard numNeighbours >= 1 else {
            throw ScoringError.invalidParameter(name: "numNeighbours", value: "\(numNeighbours)", expected: ">= 1")
        }
        guard bank.count > 0 else { throw ScoringError.emptyBank }
        try nearest.validate("k-NN result")
        guard features.rank == 2, features.shape[1] == bank.dimension, patchesPerImage > 0,
              features.shape[0] % patchesPerImage == 0, nearest.queryCount == features.shape[0], nearest.k >= 1 else {
            throw ScoringError.shapeMismatch(
                what: "patch features / k-NN result",
                expected: "features (N*\(patchesPerImage), \(bank.dimension)) and one k-NN row per feature row",
                actual: features.shape + nearest.distances.shape)
        }
        let k = nearest.k
        let scores = try patchScores(nearest, rule: .nearest)
        let images = features.shape[0] / patchesPerImage
        var out: [Float] = []
        for n in 0..<images {
            // 1. m^test,*: the patch farthest from the bank; s* its distance.
            let base = n * patchesPerImage
            let (sStar, local) = try maxPatchScore(Array(scores[base..<(base + patchesPerImage)]))
            if numNeighbours == 1 { out.append(sStar); continue }
            let patch = base + local
            // 2. m*: its nearest bank feature; 3. N_b(m*): the b nearest bank rows of m*.
            let mStar = nearest.indices[patch * k]
            let b = min(numNeighbours, bank.count)
            let support = try bank.nearestNeighbours(of: bank.bankRows([mStar]), k: b).indices
            // 4. d_j = ||m^test,* - N_b(m*)_j||.
            let distances = supportDistances(row: patch, of: features, to: bank.bankRows(support))
            // 5. weight = 1 - softmax(d)_0 (max-shifted for stability); 6. s = weight * s*.
            let weight = 1 - supportQuotient(distances[0], distances: distances)
            out.append(Float(weight) * sStar)
        }
        return out
    }
}
