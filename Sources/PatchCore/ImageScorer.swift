import MemoryBank
import Scoring
import TensorCore

/// Patch scores, image score and anomaly map of one image's patch features against a memory bank.
struct ImageScorer {
    let config: PatchCoreConfig
    let bank: MemoryBank

    /// Nearest-bank-row distance of every patch (rows (y, x)) and the image score (PatchCore Eq. 7 reweighting
    /// with `config.reweightNeighbours`, plain max when 1).
    func score(features: Tensor) throws -> (patchScores: [Float], imageScore: Float) {
        let nearest = try bank.nearestNeighbours(of: features, k: 1)
        let patch = try patchScores(nearest, rule: .nearest)
        let rule: ImageScoreRule = config.reweightNeighbours > 1 ? .reweighted(numNeighbours: config.reweightNeighbours) : .maxPatch
        let image = try rule.imageScores(features: features, nearest: nearest, patchesPerImage: features.shape[0], bank: bank)[0]
        return (patch, image)
    }

    func imageScore(features: Tensor) throws -> Float { try score(features: features).imageScore }
}
