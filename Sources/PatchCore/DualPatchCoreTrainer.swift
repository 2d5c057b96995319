import Foundation
import MemoryBank
import Scoring
import TensorCore

/// Settings of PatchCoreDual fitting beside `PatchCoreConfig` (whose `coresetRatio` is replaced by
/// `negativeCoresetRatio` in dual mode).
public struct DualFitOptions: Sendable, Equatable {
    public var negativeCoresetRatio: Double
    public var positiveCoresetRatio: Double
    public var isolation: DefectIsolation
    /// Rule, b and eps; a `log_ratio` calibration is fitted on the training images.
    public var scoring: DualScoring

    public init(negativeCoresetRatio: Double = 0.02, positiveCoresetRatio: Double = 0.10,
                isolation: DefectIsolation = DefectIsolation(), scoring: DualScoring = DualScoring()) {
        self.negativeCoresetRatio = negativeCoresetRatio; self.positiveCoresetRatio = positiveCoresetRatio
        self.isolation = isolation; self.scoring = scoring
    }
}

extension PatchCoreTrainer {
    /// What dual fitting produced beside the model.
    public struct DualResult: Sendable {
        public var model: PatchCoreModel
        /// Unreadable good images.
        public var skipped: [SkippedImage]
        /// Defect images or regions skipped or fixed (empty masks, resized masks, tiny regions, unreadable files).
        public var positiveWarnings: [SkippedImage]
        public var patchCount: Int
        public var positivePatchCount: Int
        public var featureSeconds: Double
        public var coresetSeconds: Double
    }

    /// Fits PatchCoreDual: the negative bank from `goodImages` (as plain PatchCore, coreset
    /// `options.negativeCoresetRatio`), the positive bank from the isolated defect regions of `positives`
    /// (`DefectIsolation`, coreset `options.positiveCoresetRatio`), then the training images' dual scores give the
    /// calibration and threshold (and, for `log_ratio`, the log statistics). Extra positives from any source
    /// (e.g. a synthetic generator's pairs, `PositiveExample.pairs(_:source:)`) are simply more examples.
    ///
    /// ```swift
    /// let examples = PositiveExample.trainDefects(of: ds) + (try PositiveExample.folder(url))
    /// let r = try PatchCoreTrainer.fitDual(extractor: extractor, goodImages: ds.train.map(\.image), positives: examples)
    /// try ModelFile.write(r.model, to: out)
    /// ```
    public static func fitDual(extractor: FeatureExtractor, goodImages: [URL], positives: [PositiveExample],
                               options: DualFitOptions = DualFitOptions(), skipBad: Bool = false,
                               showProgress: Bool = true) throws -> DualResult {
        var config = extractor.config
        config.coresetRatio = options.negativeCoresetRatio
        let builder = DualBankBuilder(negativeRatio: options.negativeCoresetRatio, positiveRatio: options.positiveCoresetRatio,
                                      projectionDimension: config.projectionDimension, seed: config.seed)
        try builder.validate()
        try options.isolation.validate()
        let start = Date()

        // 1. Features: good images (whole images) and isolated defect regions (crops), same extractor.
        let good = try trainingFeatures(extractor: extractor, images: goodImages, skipBad: skipBad, showProgress: showProgress)
        let defects = try PositivePatchExtractor.extract(extractor: extractor, examples: positives, isolation: options.isolation,
                                                         skipBad: skipBad, showProgress: showProgress)
        let featureSeconds = Date().timeIntervalSince(start)

        // 2. Both coresets.
        let coresetStart = Date()
        let banks = try builder.build(negative: good.features, positive: defects.features, showProgress: showProgress)
        let coresetSeconds = Date().timeIntervalSince(coresetStart)

        // 3. Training images' dual scores: log-ratio statistics (when used), then calibration and threshold.
        let scoring = try calibratedScoring(options.scoring, negative: banks.negative, positive: banks.positive,
                                            training: good, config: config)
        let scorer = ImageScorer(config: config, bank: banks.negative, positive: banks.positive, dual: scoring)
        var trainScores: [Float] = [], mapMaxima: [Float] = []
        for i in 0..<good.imageCount {
            let s = try scorer.score(features: good.image(i))
            trainScores.append(s.imageScore)
            mapMaxima.append(finiteForCalibration(s.patchScores.max() ?? 0))
        }
        let calibration = try ScoreCalibration.fit(referenceScores: trainScores.map(finiteForCalibration), method: .minMax,
                                                   threshold: .maxOfReference)
        let dual = DualBankInfo(scoring: scoring, isolation: options.isolation,
                                negativeCoresetRatio: options.negativeCoresetRatio, positiveCoresetRatio: options.positiveCoresetRatio,
                                sources: defects.sourceSummaries, files: defects.examples.map(\.example.image.path),
                                warnings: defects.warnings, positivePatchCount: defects.features.shape[0],
                                mapCalibration: try ScoreCalibration.fit(referenceScores: mapMaxima))
        let info = ModelInfo(weightsSHA256: extractor.weightsSHA256, gridHeight: good.grid.height, gridWidth: good.grid.width,
                             featureDimension: good.features.shape[1], trainImageCount: good.imageCount,
                             trainPatchCount: good.features.shape[0], calibration: calibration,
                             thresholdRule: "largest training-image dual score (\(scoring.rule.rawValue); accepts every training image)",
                             fitSeconds: Date().timeIntervalSince(start))
        let model = PatchCoreModel(config: config, info: info, bank: banks.negative.features,
                                   positiveBank: banks.positive.features, dual: dual)
        return DualResult(model: model, skipped: good.skipped, positiveWarnings: defects.warnings,
                          patchCount: good.features.shape[0], positivePatchCount: defects.features.shape[0],
                          featureSeconds: featureSeconds, coresetSeconds: coresetSeconds)
    }

    /// `scoring` with its `log_ratio` calibration fitted on the training images' s_N and s_P (other rules unchanged).
    public static func calibratedScoring(_ scoring: DualScoring, negative: MemoryBank, positive: MemoryBank,
                                         training: TrainingFeatures, config: PatchCoreConfig) throws -> DualScoring {
        guard scoring.rule == .logRatio else { return scoring }
        let scorer = ImageScorer(config: config, bank: negative, positive: positive, dual: scoring)
        var sN: [Float] = [], sP: [Float] = []
        for i in 0..<training.imageCount {
            let s = try scorer.dualScore(features: training.image(i), positive: positive, dual: scoring).image
            sN.append(s.negative.score); sP.append(s.positive.score)
        }
        var calibrated = scoring
        calibrated.logRatioCalibration = try DualLogRatioCalibration.fit(negativeScores: sN, positiveScores: sP,
                                                                        epsilon: scoring.epsilon)
        return calibrated
    }
}

/// A training image that equals a positive patch exactly gives s_N / eps (huge but finite) or, with eps = 0,
/// infinity; calibration statistics need finite numbers, so infinity becomes the largest float.
private func finiteForCalibration(_ s: Float) -> Float { s.isFinite ? s : (s > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude) }
