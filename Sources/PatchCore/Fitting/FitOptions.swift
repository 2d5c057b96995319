import Foundation
import Scoring

/// Which good images set the threshold.
public enum CalibrationPlan: Sendable {
    /// Hold out `fraction` of the good images (at least `minimum`), drawn with the model's seed; the bank never
    /// sees them. With too few images to keep one for the bank, falls back to `trainingImages` (recorded).
    case holdOut(fraction: Double = 0.1, minimum: Int = 5)
    /// Separate good images (e.g. `--calibration DIR`); every given good image builds the bank.
    case images([ImageSource])
    /// Score the bank's own training images (biased low: those images are in the bank). Only for tiny sets and
    /// to reproduce models written before held-out calibration.
    case trainingImages

    public static let `default` = CalibrationPlan.holdOut()
}

/// PatchCoreDual's settings beside `PatchCoreConfig` (whose `coresetRatio` gives way to `negativeCoresetRatio`).
public struct DualFitOptions: Sendable, Equatable {
    /// 10% of normal patches (single-bank PatchCore's default, so `--dual` adds to the same normal bank; at 2% dual lost
    /// to plain PatchCore on image AUROC at the default geometry, bench/RESULTS.md) and 10% of defect patches
    /// (bench/ABLATION.md, which keeps 2% normal with an explicit flag).
    public static let defaultNegativeCoresetRatio = 0.10
    public static let defaultPositiveCoresetRatio = 0.10

    public var negativeCoresetRatio: Double
    public var positiveCoresetRatio: Double
    public var isolation: DefectIsolation
    /// Rule, b and eps; a `log_ratio` calibration is fitted on the training images.
    public var scoring: DualScoring

    public init(negativeCoresetRatio: Double = defaultNegativeCoresetRatio,
                positiveCoresetRatio: Double = defaultPositiveCoresetRatio,
                isolation: DefectIsolation = DefectIsolation(), scoring: DualScoring = DualScoring()) {
        self.negativeCoresetRatio = negativeCoresetRatio; self.positiveCoresetRatio = positiveCoresetRatio
        self.isolation = isolation; self.scoring = scoring
    }
}

/// Everything about a fit beside the model configuration.
///
/// ```swift
/// var options = FitOptions()                        // plain PatchCore, 10% held out, 1% false rejects
/// options.positives = PositiveExample.trainDefects(of: dataset)   // non-empty: PatchCoreDual
/// options.threshold = .falseRejectRate(0.005)
/// options.defectNormalAreas = DefectNormalAreas(examples: PositiveExample.trainDefects(of: dataset))
/// ```
public struct FitOptions: Sendable {
    /// Defect images with masks for PatchCoreDual's positive bank; empty fits plain PatchCore.
    public var positives: [PositiveExample]
    /// Dual settings, used when `positives` is not empty.
    public var dual: DualFitOptions
    /// Defect images whose normal areas (away from the mask) join the good images' patches in the normal bank.
    public var defectNormalAreas: DefectNormalAreas?
    public var calibration: CalibrationPlan
    public var threshold: ModelCalibration.Policy
    /// Skip unreadable images (listed in the result) instead of failing.
    public var skipBad: Bool
    /// Bytes of good-image patch features held before the normal bank is built in chunks (`StreamedCoreset`).
    /// Below it the bank is the plain coreset of every patch; above it peak memory stays near this figure (plus
    /// the coreset's working arrays) at the cost of a bank chosen chunk by chunk.
    public var featureMemory: Int

    public static let defaultFalseRejectRate = 0.01
    /// 1 GiB: 2.1 M patches of 128 features. Every data set of bench/RESULTS.md's reference rows fits in one chunk
    /// (Magnetic Tile's 548,800 training patches are 281 MB); 1,000 x 1,000 training images stream from about 130.
    public static let defaultFeatureMemory = 1 << 30

    public init(positives: [PositiveExample] = [], dual: DualFitOptions = DualFitOptions(),
                calibration: CalibrationPlan = .default,
                threshold: ModelCalibration.Policy = .falseRejectRate(defaultFalseRejectRate), skipBad: Bool = false,
                featureMemory: Int = defaultFeatureMemory) {
        self.positives = positives; self.dual = dual; self.calibration = calibration
        self.threshold = threshold; self.skipBad = skipBad; self.featureMemory = featureMemory
    }
}

/// What fitting produced beside the model.
public struct FitResult: Sendable {
    public var model: PatchCoreModel
    /// Unreadable good images (with `skipBad`).
    public var skipped: [SkippedImage]
    /// Defect images or regions skipped or fixed (empty masks, resized masks, tiny regions, unreadable files).
    public var positiveWarnings: [SkippedImage]
    /// Normal patch rows before the coreset.
    public var patchCount: Int
    /// Set when the normal bank was built chunk by chunk (also in `model.info.streamedBank`).
    public var streamedBank: StreamedBankRecord? { model.info.streamedBank }
    /// Defect patch rows before the coreset (0 for plain models).
    public var positivePatchCount: Int
    /// Images that set the threshold.
    public var calibrationImages: [String]
    /// Notes a user should read (e.g. a fallback of the calibration plan).
    public var notes: [String]
    public var featureSeconds: Double
    public var coresetSeconds: Double
    public var calibrationSeconds: Double
    /// Wall time of the whole fit.
    public var totalSeconds: Double = 0
}
