import Scoring

/// What a PatchCoreDual model records about its positive bank: which positives built it, how defects were isolated,
/// both coreset ratios, and the scoring rule. Stored as JSON (`dual`) in the model file's metadata.
///
/// ```swift
/// if let dual = model.dual { print(dual.scoring.rule, dual.sources.map(\.images)) }
/// ```
public struct DualBankInfo: Sendable, Codable, Equatable {
    /// Rule, b, eps and (for `log_ratio`) the training-score calibration.
    public var scoring: DualScoring
    public var isolation: DefectIsolation
    public var negativeCoresetRatio: Double
    public var positiveCoresetRatio: Double
    /// Per-source counts (images, regions, patches before the coreset).
    public var sources: [PositiveSourceSummary]
    /// The defect image files that contributed patches, in bank order.
    public var files: [String]
    /// Defect images or regions skipped (empty masks, tiny regions) or fixed (resized masks), with why.
    public var warnings: [SkippedImage]
    /// Positive patches before the coreset.
    public var positivePatchCount: Int
    /// Statistics of the training images' largest patch-map value (n_i / (p_i + eps)), for heatmap colour scales
    /// (the image score of a dual rule is not in map units).
    public var mapCalibration: ScoreCalibration?

    public init(scoring: DualScoring, isolation: DefectIsolation, negativeCoresetRatio: Double, positiveCoresetRatio: Double,
                sources: [PositiveSourceSummary], files: [String], warnings: [SkippedImage], positivePatchCount: Int,
                mapCalibration: ScoreCalibration? = nil) {
        self.mapCalibration = mapCalibration
        self.scoring = scoring; self.isolation = isolation
        self.negativeCoresetRatio = negativeCoresetRatio; self.positiveCoresetRatio = positiveCoresetRatio
        self.sources = sources; self.files = files; self.warnings = warnings; self.positivePatchCount = positivePatchCount
    }

    enum CodingKeys: String, CodingKey {
        case scoring, isolation, sources, files, warnings
        case negativeCoresetRatio = "negative_coreset_ratio"
        case positiveCoresetRatio = "positive_coreset_ratio"
        case positivePatchCount = "positive_patch_count"
        case mapCalibration = "map_calibration"
    }
}
