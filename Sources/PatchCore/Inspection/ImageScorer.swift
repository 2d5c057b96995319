import MemoryBank
import Scoring
import TensorCore

/// Patch scores (the anomaly map's values), image score of one image's patch features against a fitted model's
/// bank(s): single-bank PatchCore, or PatchCoreDual when a positive bank and `DualScoring` are given. Works on
/// precomputed features, so an ablation can score many banks and rules from one backbone pass per test image.
///
/// ```swift
/// let scorer = ImageScorer(config: config, bank: negative, positive: positive, dual: DualScoring(rule: .thesis))
/// let (patchScores, score) = try scorer.score(features: testFeatures /*(P, D)*/)
/// ```
public struct ImageScorer: Sendable {
    public let config: PatchCoreConfig
    public let bank: MemoryBank
    /// Positive (defect) bank and dual rule; both nil for single-bank scoring.
    public let positive: MemoryBank?
    public let dual: DualScoring?

    public init(config: PatchCoreConfig, bank: MemoryBank, positive: MemoryBank? = nil, dual: DualScoring? = nil) {
        self.config = config; self.bank = bank; self.positive = positive; self.dual = dual
    }

    /// Single bank: nearest-bank-row distance of every patch (rows (y, x)) and the image score (PatchCore Eq. 7
    /// reweighting with `config.reweightNeighbours`, plain max when 1). Dual: `DualScoring`'s patch map values and
    /// image score.
    public func score(features: Tensor) throws -> (patchScores: [Float], imageScore: Float) {
        if let positive, let dual {
            let (patch, image) = try dualScore(features: features, positive: positive, dual: dual)
            return (patch, image.score)
        }
        let nearest = try bank.nearestNeighbours(of: features, k: 1)
        let patch = try patchScores(nearest, rule: .nearest)
        let rule: ImageScoreRule = config.reweightNeighbours > 1 ? .reweighted(numNeighbours: config.reweightNeighbours) : .maxPatch
        let image = try rule.imageScores(features: features, nearest: nearest, patchesPerImage: features.shape[0], bank: bank)[0]
        return (patch, image)
    }

    /// Dual scoring with its components (s_N, s_P, weights, chosen patches).
    public func dualScore(features: Tensor, positive: MemoryBank, dual: DualScoring) throws -> (patchScores: [Float], image: DualScoring.ImageScore) {
        let nn = try bank.nearestNeighbours(of: features, k: 1)
        let pp = try positive.nearestNeighbours(of: features, k: 1)
        let image = try dual.imageScore(features: features, negative: nn, positive: pp, negativeBank: bank, positiveBank: positive)
        return (try dual.patchScores(negative: nn, positive: pp), image)
    }

    public func imageScore(features: Tensor) throws -> Float { try score(features: features).imageScore }
}
