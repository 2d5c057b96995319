import Crypto
import Foundation
import MemoryBank
import Scoring
import TensorCore

/// The memory banks of a fitted model, as a type: plain PatchCore has one bank of normal patches; PatchCoreDual
/// adds a positive bank of defect patches and the record of how it was built and how it scores.
public enum Banks: Sendable, Equatable {
    case single(MemoryBank)
    case dual(negative: MemoryBank, positive: MemoryBank, DualBankInfo)

    /// The bank of normal patches (the negative bank of a dual model).
    public var normal: MemoryBank {
        switch self {
        case let .single(bank): return bank
        case let .dual(negative, _, _): return negative
        }
    }

    /// The defect bank and its record; nil for a plain model.
    public var positive: (bank: MemoryBank, info: DualBankInfo)? {
        if case let .dual(_, positive, info) = self { return (positive, info) }
        return nil
    }

    public var isDual: Bool { positive != nil }
}

/// What a fitted model records beside its configuration.
public struct ModelInfo: Sendable, Codable, Equatable {
    /// SHA-256 of the backbone weights file the bank was built with; scoring with other weights is refused.
    public var weightsSHA256: String
    /// Patch grid (rows, columns) of one input image.
    public var gridHeight: Int
    public var gridWidth: Int
    public var featureDimension: Int
    /// Good images whose patches built the bank (held-out calibration images are not counted).
    public var trainImageCount: Int
    public var trainPatchCount: Int
    /// Score statistics and threshold in the layout that format-1/2 readers know; kept in step with
    /// `thresholdCalibration.threshold` so older builds decide as this one does.
    public var calibration: ScoreCalibration
    /// How the threshold was chosen, in words.
    public var thresholdRule: String
    /// 0 in models fitted since files became reproducible (the fit time is `FitResult.totalSeconds`); older files
    /// hold their fit's wall time.
    public var fitSeconds: Double
    /// Held-out calibration and threshold provenance; nil in files written before it existed.
    public var thresholdCalibration: ModelCalibration?
    /// Content id: SHA-256 (hex, 16 digits) of the configuration and banks, set when the model is fitted.
    public var modelID: String?
    /// How a bank too large for `FitOptions.featureMemory` was built chunk by chunk; nil when it was chosen from
    /// every patch at once (then absent from the file, so such files stay as before).
    public var streamedBank: StreamedBankRecord?
    /// The normal areas of defect images that joined the normal bank's coreset input (`fit --normal-from-defects`);
    /// nil (absent from the file) for banks of good images only.
    public var defectNormalAreas: DefectNormalAreasRecord?

    public init(weightsSHA256: String, gridHeight: Int, gridWidth: Int, featureDimension: Int, trainImageCount: Int,
                trainPatchCount: Int, calibration: ScoreCalibration, thresholdRule: String, fitSeconds: Double,
                thresholdCalibration: ModelCalibration? = nil, modelID: String? = nil) {
        self.weightsSHA256 = weightsSHA256; self.gridHeight = gridHeight; self.gridWidth = gridWidth
        self.featureDimension = featureDimension; self.trainImageCount = trainImageCount
        self.trainPatchCount = trainPatchCount; self.calibration = calibration; self.thresholdRule = thresholdRule
        self.fitSeconds = fitSeconds; self.thresholdCalibration = thresholdCalibration; self.modelID = modelID
    }

    enum CodingKeys: String, CodingKey {
        case weightsSHA256 = "weights_sha256", gridHeight = "grid_height", gridWidth = "grid_width"
        case featureDimension = "feature_dimension", trainImageCount = "train_image_count"
        case trainPatchCount = "train_patch_count", calibration
        case thresholdRule = "threshold_rule", fitSeconds = "fit_seconds"
        case thresholdCalibration = "threshold_calibration", modelID = "model_id"
        case streamedBank = "streamed_bank"
        case defectNormalAreas = "defect_normal_areas"
    }
}

/// "1.5 GiB", "64 MiB", "512 KiB", "100 B".
func byteCount(_ n: Int) -> String {
    let units = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
    for (size, name) in units where n >= size {
        let v = Double(n) / Double(size)
        return (v == v.rounded() ? String(format: "%.0f", v) : String(format: "%.1f", v)) + " " + name
    }
    return "\(n) B"
}

/// A streamed bank (`StreamedCoreset`): its chunks were reduced to `oversampling` x the coreset ratio each, and
/// the bank was picked from the `keptPatches` rows they kept.
public struct StreamedBankRecord: Sendable, Codable, Equatable {
    public var chunks: Int
    /// Feature bytes that started a chunk's reduction (`FitOptions.featureMemory`).
    public var chunkBytes: Int
    public var oversampling: Double
    public var keptPatches: Int

    public init(chunks: Int, chunkBytes: Int, oversampling: Double, keptPatches: Int) {
        self.chunks = chunks; self.chunkBytes = chunkBytes; self.oversampling = oversampling; self.keptPatches = keptPatches
    }

    enum CodingKeys: String, CodingKey {
        case chunks, oversampling
        case chunkBytes = "chunk_bytes", keptPatches = "kept_patches"
    }

    public var description: String {
        "streamed: \(chunks) chunks of \(byteCount(chunkBytes)) of features, each cut to \(String(format: "%g", oversampling))x the ratio, then \(keptPatches) kept patches cut to the bank"
    }
}

/// A fitted model: configuration, what fitting recorded, and its banks. One value that saves (`ModelFile`), loads
/// and compares equal.
///
/// ```swift
/// let model = try ModelFile.read(URL(fileURLWithPath: "part.safetensors"))
/// if case .dual(_, _, let info) = model.banks { print(info.scoring.rule) }
/// print(model.calibration.threshold, model.calibration.provenance)
/// ```
public struct PatchCoreModel: Sendable, Equatable {
    public var config: PatchCoreConfig
    public var info: ModelInfo
    public var banks: Banks

    public init(config: PatchCoreConfig, info: ModelInfo, banks: Banks) {
        self.config = config; self.info = info; self.banks = banks
    }

    public var isDual: Bool { banks.isDual }

    /// The threshold calibration: the held-out one, or for older files one derived from their training-score
    /// statistics (median taken as the mean of the training scores, map levels from the training maps).
    public var calibration: ModelCalibration {
        if let c = info.thresholdCalibration { return c }
        let legacy = info.calibration
        let maps = banks.positive?.info.mapCalibration ?? legacy
        return ModelCalibration(goodScores: [], goodMapMaxima: [], medianGoodScore: Swift.min(legacy.mean, legacy.threshold),
                                threshold: legacy.threshold,
                                provenance: ThresholdProvenance(rule: .maxTraining, images: info.trainImageCount,
                                                                source: "training images", estimator: info.thresholdRule),
                                mapLow: maps.min, mapThreshold: Swift.max(maps.threshold, maps.min.nextUp))
    }

    /// Sets a new threshold (and the map's decision level with it), recorded with its provenance.
    public mutating func setThreshold(_ threshold: Float, provenance: ThresholdProvenance) throws {
        let updated = try calibration.withThreshold(threshold, provenance: provenance)
        info.thresholdCalibration = updated
        info.calibration.threshold = threshold
        info.thresholdRule = provenance.description
    }

    /// Short content id for logs, results and stores: `info.modelID`, or for older files a hash of their metadata.
    public var id: String {
        if let id = info.modelID { return id }
        return Self.contentID(config: config, info: info, banks: nil)
    }

    /// SHA-256 (16 hex digits) of the configuration, the record (less its timing) and (when given) the bank values:
    /// the same data and settings give the same id.
    static func contentID(config: PatchCoreConfig, info: ModelInfo, banks: Banks?) -> String {
        var hasher = SHA256()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var info = info
        info.modelID = nil
        info.fitSeconds = 0
        hasher.update(data: (try? encoder.encode(config)) ?? Data())
        hasher.update(data: (try? encoder.encode(info)) ?? Data())
        if let banks {
            for bank in [banks.normal] + (banks.positive.map { [$0.bank] } ?? []) {
                bank.features.scalars.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined().prefix(16).description
    }
}
