import Checkpoints
import Foundation
import MemoryBank
import Scoring
import TensorCore

/// The model file: one `.safetensors` file holding the memory bank (`memory_bank`, N x D, float32) and, in its
/// string metadata, the format name and version, the configuration and `ModelInfo` as JSON.
/// A PatchCoreDual model adds the tensor `positive_bank` (Np x D) and the metadata `dual` (JSON of
/// `DualBankInfo`) and is written as format version 2, so builds that cannot score it refuse it; plain models are
/// still written as version 1. The held-out calibration (`ModelInfo.thresholdCalibration`) is an optional field
/// that older readers ignore: they decide with `ModelInfo.calibration.threshold`, kept equal to it.
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
        var tensors = ["memory_bank": model.banks.normal.features]
        if let (positive, dual) = model.banks.positive {
            metadata["format_version"] = String(formatVersion)
            metadata["dual"] = String(decoding: try encoder.encode(dual), as: UTF8.self)
            tensors["positive_bank"] = positive.features
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
        guard let versionText = meta["format_version"], let version = Int(versionText), version >= 1 else {
            throw PatchCoreError.modelFile(file: file, reason: "missing or invalid format_version '\(meta["format_version"] ?? "")'")
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
        func bank(_ name: String) throws -> MemoryBank {
            guard let t = contents.tensors[name], t.rank == 2, t.shape[0] > 0 else {
                throw PatchCoreError.modelFile(file: file, reason: "missing or empty \(name) tensor")
            }
            guard t.shape[1] == info.featureDimension else {
                throw PatchCoreError.modelFile(file: file, reason: "\(name) has \(t.shape[1]) columns, metadata says \(info.featureDimension)")
            }
            if let bad = t.scalars.firstIndex(where: { !$0.isFinite }) {
                throw PatchCoreError.modelFile(file: file, reason: "\(name) holds a non-finite value (\(t.scalars[bad]) at row \(bad / t.shape[1]))")
            }
            do { return try MemoryBank(features: t) } catch {
                throw PatchCoreError.modelFile(file: file, reason: "\(name): \(error)")
            }
        }
        let normal = try bank("memory_bank")
        if let dualText = meta["dual"] {
            let dual: DualBankInfo
            do { dual = try decoder.decode(DualBankInfo.self, from: Data(dualText.utf8)) } catch {
                throw PatchCoreError.modelFile(file: file, reason: "dual metadata does not decode: \(error)")
            }
            guard contents.tensors["positive_bank"] != nil else {
                throw PatchCoreError.modelFile(file: file, reason: "dual model without a non-empty positive_bank tensor")
            }
            return PatchCoreModel(config: config, info: info, banks: .dual(negative: normal, positive: try bank("positive_bank"), dual))
        }
        if contents.tensors["positive_bank"] != nil {
            throw PatchCoreError.modelFile(file: file, reason: "positive_bank tensor without dual metadata")
        }
        return PatchCoreModel(config: config, info: info, banks: .single(normal))
    }
}
