import Foundation
import Scoring

// Range checks of what a model file records beside its configuration. A model file is input like any other: a value
// no fit writes (a negative grid, a NaN threshold, a neighbourhood of 10^9) is refused by name before anything is
// allocated or scored with it.

extension ModelInfo {
    /// Largest patch grid side (a 4096-pixel input at stride 8).
    public static let maxGridSide = 512

    public func validate() throws {
        func bad(_ s: String) -> PatchCoreError { .invalidConfiguration(s) }
        guard (1...Self.maxGridSide).contains(gridHeight), (1...Self.maxGridSide).contains(gridWidth) else {
            throw bad("model.grid_height x grid_width must be within 1...\(Self.maxGridSide) each, got \(gridHeight)x\(gridWidth)")
        }
        guard (1...PatchCoreConfig.maxFeatureDimension).contains(featureDimension) else {
            throw bad("model.feature_dimension must be in 1...\(PatchCoreConfig.maxFeatureDimension), got \(featureDimension)")
        }
        guard trainImageCount >= 0, trainPatchCount >= 0 else {
            throw bad("model.train_image_count and train_patch_count must be >= 0, got \(trainImageCount), \(trainPatchCount)")
        }
        if let s = streamedBank {
            guard s.chunks >= 1, s.chunkBytes >= 1, s.keptPatches >= 1, s.oversampling.isFinite, s.oversampling >= 1 else {
                throw bad("model.streamed_bank needs chunks, chunk_bytes and kept_patches >= 1 and a finite oversampling >= 1, got \(s.chunks), \(s.chunkBytes), \(s.keptPatches), \(s.oversampling)")
            }
        }
        if let d = defectNormalAreas {
            guard d.images >= 1, d.patches >= 0, DefectNormalAreas.marginRange.contains(d.marginCells) else {
                throw bad("model.defect_normal_areas needs images >= 1, patches >= 0 and margin_cells within \(DefectNormalAreas.marginRange.lowerBound)...\(DefectNormalAreas.marginRange.upperBound), got \(d.images), \(d.patches), \(d.marginCells)")
            }
        }
        try calibration.validate(field: "model.calibration")
        if let held = thresholdCalibration { try held.validate(field: "model.threshold_calibration") }
    }
}

extension ScoreCalibration {
    func validate(field: String) throws {
        for (name, value) in [("min", min), ("max", max), ("mean", mean), ("std", std), ("threshold", threshold)]
        where !value.isFinite {
            throw PatchCoreError.invalidConfiguration("\(field).\(name) must be a finite number, got \(value)")
        }
    }
}

extension ModelCalibration {
    func validate(field: String) throws {
        for (name, value) in [("median_good_score", medianGoodScore), ("threshold", threshold),
                              ("map_low", mapLow), ("map_threshold", mapThreshold)] where !value.isFinite {
            throw PatchCoreError.invalidConfiguration("\(field).\(name) must be a finite number, got \(value)")
        }
        if let bad = (goodScores + goodMapMaxima).first(where: { !$0.isFinite }) {
            throw PatchCoreError.invalidConfiguration("\(field): held-out scores must be finite, found \(bad)")
        }
        guard mapThreshold > mapLow else {
            throw PatchCoreError.invalidConfiguration("\(field).map_threshold (\(mapThreshold)) must be above map_low (\(mapLow))")
        }
    }
}

extension DualBankInfo {
    public func validate() throws {
        func bad(_ s: String) -> PatchCoreError { .invalidConfiguration(s) }
        for (name, ratio) in [("negative_coreset_ratio", negativeCoresetRatio), ("positive_coreset_ratio", positiveCoresetRatio)]
        where !(ratio > 0 && ratio <= 1) {
            throw bad("dual.\(name) must be in (0, 1], got \(ratio)")
        }
        guard (1...PatchCoreConfig.maxReweightNeighbours).contains(scoring.numNeighbours) else {
            throw bad("dual.scoring.num_neighbours must be in 1...\(PatchCoreConfig.maxReweightNeighbours), got \(scoring.numNeighbours)")
        }
        guard scoring.epsilon.isFinite, scoring.epsilon > 0, scoring.epsilon <= 1 else {
            throw bad("dual.scoring.epsilon must be in (0, 1], got \(scoring.epsilon)")
        }
        if let c = scoring.logRatioCalibration {
            for (name, value) in [("mean_log_negative", c.meanLogNegative), ("std_log_negative", c.stdLogNegative),
                                  ("mean_log_positive", c.meanLogPositive), ("std_log_positive", c.stdLogPositive)]
            where !value.isFinite {
                throw bad("dual.scoring.log_ratio_calibration.\(name) must be finite, got \(value)")
            }
        }
        try isolation.validate()
        guard positivePatchCount >= 0 else { throw bad("dual.positive_patch_count must be >= 0, got \(positivePatchCount)") }
        try mapCalibration?.validate(field: "dual.map_calibration")
    }
}
