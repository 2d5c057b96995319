import Checkpoints
import Foundation
import Scoring
import TensorCore

/// What a fitted model records beside its configuration.
public struct ModelInfo: Sendable, Codable, Equatable {
    /// SHA-256 of the backbone weights file the bank was built with; scoring with other weights is refused.
    public var weightsSHA256: String
    /// Patch grid (rows, columns) of one input image and the stride of that grid in input pixels.
    public var gridHeight: Int
    public var gridWidth: Int
    public var featureDimension: Int
    public var trainImageCount: Int
    public var trainPatchCount: Int
    /// Statistics of image scores on the training images and the decision threshold (raw score units).
    public var calibration: ScoreCalibration
    /// How the threshold was chosen, in words.
    public var thresholdRule: String
    public var fitSeconds: Double

    enum CodingKeys: String, CodingKey {
        case weightsSHA256 = "weights_sha256", gridHeight = "grid_height", gridWidth = "grid_width"
        case featureDimension = "feature_dimension", trainImageCount = "train_image_count"
        case trainPatchCount = "train_patch_count", calibration
        case thresholdRule = "threshold_rule", fitSeconds = "fit_seconds"
    }
}

/// The model file: one `.safetensors` file holding the memory bank (`memory_bank`, N x D, float32) and, in its
/// string metadata, the format name and version, the configuration and `ModelInfo` as JSON.
/// A PatchCoreDual model adds the tensor `positive_bank` (Np x D) and the metadata `dual` (JSON of
/// `DualBankInfo`) and is written as format version 2, so builds that cannot score it refuse it; plain models are
/// still written as version 1 and read unchanged.
/// Written atomically (temporary file + rename).
public enum ModelFile {
    public static let formatName = "patchcore-swift"
    /// The newest version this build reads (and writes, for dual models).
    public static let formatVersion = 2
    /// The version of plain single-bank model files.
    public static let plainFormatVersion = 1

    public static func write(_ model: PatchCoreModel, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var metadata = [
            "format": formatName,
            "format_version": String(plainFormatVersion),
            "config": String(decoding: try encoder.encode(model.config), as: UTF8.self),
            "model": String(decoding: try encoder.encode(model.info), as: UTF8.self),
        ]
        var tensors = ["memory_bank": model.bank]
        if let positive = model.positiveBank, let dual = model.dual {
            metadata["format_version"] = String(formatVersion)
            metadata["dual"] = String(decoding: try encoder.encode(dual), as: UTF8.self)
            tensors["positive_bank"] = positive
        } else if model.positiveBank != nil || model.dual != nil {
            throw PatchCoreError.modelFile(file: url.path, reason: "a dual model needs both the positive bank and its dual record")
        }
        try SafeTensors.write(tensors, metadata: metadata, to: url)
    }

    public static func read(_ url: URL) throws -> PatchCoreModel {
        let file = url.path
        guard FileManager.default.fileExists(atPath: file) else { throw PatchCoreError.modelFile(file: file, reason: "no such file") }
        let contents: SafeTensors.Contents
        do { contents = try SafeTensors.read(url) } catch let e as CheckpointError {
            throw PatchCoreError.modelFile(file: file, reason: e.description)
        }
        let meta = contents.metadata
        guard meta["format"] == formatName else {
            throw PatchCoreError.modelFile(file: file, reason: "no '\(formatName)' format tag (is this a model written by `patchcore fit`?)")
        }
        guard let versionText = meta["format_version"], let version = Int(versionText) else {
            throw PatchCoreError.modelFile(file: file, reason: "missing format_version")
        }
        guard version <= formatVersion else {
            throw PatchCoreError.incompatibleModel(file: file, reason: "model format version \(version) is newer than this build supports (\(formatVersion)); upgrade patchcore")
        }
        let decoder = JSONDecoder()
        let config: PatchCoreConfig
        let info: ModelInfo
        do {
            config = try decoder.decode(PatchCoreConfig.self, from: Data((meta["config"] ?? "").utf8))
            info = try decoder.decode(ModelInfo.self, from: Data((meta["model"] ?? "").utf8))
        } catch {
            throw PatchCoreError.modelFile(file: file, reason: "metadata does not decode: \(error)")
        }
        guard let bank = contents.tensors["memory_bank"], bank.rank == 2, bank.shape[0] > 0 else {
            throw PatchCoreError.modelFile(file: file, reason: "missing or empty memory_bank tensor")
        }
        guard bank.shape[1] == info.featureDimension else {
            throw PatchCoreError.modelFile(file: file, reason: "memory_bank has \(bank.shape[1]) columns, metadata says \(info.featureDimension)")
        }
        var positiveBank: Tensor?
        var dual: DualBankInfo?
        if let dualText = meta["dual"] {
            do { dual = try decoder.decode(DualBankInfo.self, from: Data(dualText.utf8)) } catch {
                throw PatchCoreError.modelFile(file: file, reason: "dual metadata does not decode: \(error)")
            }
            guard let positive = contents.tensors["positive_bank"], positive.rank == 2, positive.shape[0] > 0 else {
                throw PatchCoreError.modelFile(file: file, reason: "dual model without a non-empty positive_bank tensor")
            }
            guard positive.shape[1] == info.featureDimension else {
                throw PatchCoreError.modelFile(file: file, reason: "positive_bank has \(positive.shape[1]) columns, metadata says \(info.featureDimension)")
            }
            positiveBank = positive
        } else if contents.tensors["positive_bank"] != nil {
            throw PatchCoreError.modelFile(file: file, reason: "positive_bank tensor without dual metadata")
        }
        return PatchCoreModel(config: config, info: info, bank: bank, positiveBank: positiveBank, dual: dual)
    }
}
