import Foundation
import MemoryBank
import TensorCore

/// Patch features -> the two coreset memory banks of PatchCoreDual, without touching a backbone. Fitting uses it,
/// and an ablation can extract training-good and defect features once (`PatchCoreTrainer.trainingFeatures`,
/// `PositivePatchExtractor.extract`) and build many banks from them (other ratios, subsets of positives).
///
/// The ablation flow, one backbone pass per image in total:
/// 1. `PatchCoreTrainer.trainingFeatures(extractor:images:)` for the good training images;
/// 2. `PositivePatchExtractor.extract(extractor:examples:isolation:)` once over all positives (real + synthetic);
///    `PositivePatches.rows(where:)` picks a subset (e.g. real only, or real + the first N synthetic) without
///    re-extracting;
/// 3. test features once per test image: `extractor.patchFeatures([extractor.prepare(image)])`;
/// 4. per bank configuration: `DualBankBuilder.build`, `PatchCoreTrainer.calibratedScoring` (log_ratio), then
///    per test image one k-NN per bank (`bank.nearestNeighbours(of:k: 1)`) and every rule from those results
///    (`DualScoring(rule:).imageScore` / `.patchScores`), or `ImageScorer(config:bank:positive:dual:)`;
///    `AnomalyMapGenerator` makes the maps and `Metrics.evaluate` the table. A single-bank baseline is
///    `ImageScorer(config:bank:)` on a `DualBankBuilder.coreset` of the same good features.
///
/// ```swift
/// let good = try PatchCoreTrainer.trainingFeatures(extractor: extractor, images: goodURLs)
/// let defects = try PositivePatchExtractor.extract(extractor: extractor, examples: examples, isolation: .init())
/// let banks = try DualBankBuilder(negativeRatio: 0.02, positiveRatio: 0.10, projectionDimension: 128, seed: 0)
///     .build(negative: good.features, positive: defects.features)
/// ```
public struct DualBankBuilder: Sendable {
    public var negativeRatio: Double
    public var positiveRatio: Double
    public var projectionDimension: Int
    public var seed: UInt64

    public init(negativeRatio: Double = DualFitOptions.defaultNegativeCoresetRatio,
                positiveRatio: Double = DualFitOptions.defaultPositiveCoresetRatio, projectionDimension: Int = 128, seed: UInt64 = 0) {
        self.negativeRatio = negativeRatio; self.positiveRatio = positiveRatio
        self.projectionDimension = projectionDimension; self.seed = seed
    }

    public func validate() throws {
        for (name, r) in [("negative coreset ratio", negativeRatio), ("positive coreset ratio", positiveRatio)] {
            guard r > 0, r <= 1 else { throw PatchCoreError.invalidConfiguration("\(name) must be in (0, 1], got \(r)") }
        }
    }

    /// Both banks: greedy coresets of the negative (normal) and positive (defect) patch features.
    public func build(negative: Tensor, positive: Tensor, progress: ProgressHandler? = nil) throws -> (negative: MemoryBank, positive: MemoryBank) {
        try validate()
        guard positive.rank == 2, positive.shape[0] > 0 else {
            throw PatchCoreError.emptyTrainingSet("the positive bank has no defect patch")
        }
        guard negative.rank == 2, positive.shape[1] == negative.shape[1] else {
            throw PatchCoreError.invalidConfiguration("positive patch features have shape \(positive.shape), the negative ones \(negative.shape); they must share the feature dimension")
        }
        return (try Self.coreset(negative, ratio: negativeRatio, projectionDimension: projectionDimension, seed: seed,
                                 stage: .coreset, progress: progress),
                try Self.coreset(positive, ratio: positiveRatio, projectionDimension: projectionDimension, seed: seed,
                                 stage: .positiveCoreset, progress: progress))
    }

    /// A greedy coreset (`GreedyCoresetSampler`) of `features` as a memory bank; ratio 1 keeps every row.
    public static func coreset(_ features: Tensor, ratio: Double, projectionDimension: Int, seed: UInt64,
                               stage: ProgressStage = .coreset, progress: ProgressHandler? = nil) throws -> MemoryBank {
        guard ratio < 1 else { return try MemoryBank(features: features) }
        let sampler = GreedyCoresetSampler(ratio: ratio, projectionDimension: projectionDimension, seed: seed,
                                           threads: ComputeThreads.current)
        var picks = StageProgress(stage, total: sampler.coresetSize(rows: features.shape[0]), handler: progress)
        // The sampler checks cancellation itself every 64 picks.
        let selection = try sampler.select(from: features) { done, _ in picks.set(done) }
        return try MemoryBank(features: features.gatherRows(selection))
    }
}
