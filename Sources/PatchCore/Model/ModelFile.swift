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

    /// Largest magnitude of a bank value. Backbone features are O(1)-O(100); squared distances of values up to this,
    /// summed over 65,536 dimensions, stay far inside Float's range, so the search never meets an infinity.
    public static let maxBankMagnitude: Float = 1e12

    /// Reads and validates a model file: every metadata value is range-checked and every bank value must be finite
    /// and below `maxBankMagnitude`; errors name the file and the field.
    public static func read(_ url: URL) throws -> PatchCoreModel {
        let file = url.path
        do { try InputFile.checkRegularFile(url) } catch let error as InputFileError {
            throw PatchCoreError.modelFile(file: file, reason: error.reason)
        }
        let contents: SafeTensors.Contents
        do { contents = try SafeTensors.read(url, accepting: ScalarType.floatingPoint) } catch let e as CheckpointError {
            throw PatchCoreError.modelFile(file: file, reason: e.description)
        }
        let meta = contents.metadata
        let (version, config, info) = try describe(meta, file: file)
        func bank(_ name: String) throws -> MemoryBank {
            guard let t = contents.tensors[name], t.rank == 2, t.shape[0] > 0 else {
                throw PatchCoreError.modelFile(file: file, reason: "missing or empty \(name) tensor")
            }
            guard t.shape[1] == info.featureDimension else {
                throw PatchCoreError.modelFile(file: file, reason: "\(name) has \(t.shape[1]) columns, metadata says \(info.featureDimension)")
            }
            let limit = maxBankMagnitude
            if let bad = t.scalars.firstIndex(where: { !($0.magnitude <= limit) }) {
                let value = t.scalars[bad]
                throw PatchCoreError.modelFile(file: file, reason: value.isFinite
                    ? "\(name) holds \(value) at row \(bad / t.shape[1]), beyond the plausible magnitude \(limit)"
                    : "\(name) holds a non-finite value (\(value) at row \(bad / t.shape[1]))")
            }
            do { return try MemoryBank(features: t) } catch {
                throw PatchCoreError.modelFile(file: file, reason: "\(name): \(error)")
            }
        }
        let normal = try bank("memory_bank")
        if meta["dual"] != nil {
            guard version >= 2 else {
                throw PatchCoreError.modelFile(file: file, reason: "dual metadata in a format_version \(version) file (dual models are version 2)")
            }
            let dual: DualBankInfo = try decode(meta, "dual", file: file)
            try checked(file) { try dual.validate() }
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

    /// The configuration and the model's facts (threshold, calibration, provenance) from the header alone, with the
    /// same checks as `read` on the metadata and no bank read: a service asks this of a many-MB file per request.
    public static func readInfo(_ url: URL) throws -> (config: PatchCoreConfig, info: ModelInfo) {
        let file = url.path
        do { try InputFile.checkRegularFile(url) } catch let error as InputFileError {
            throw PatchCoreError.modelFile(file: file, reason: error.reason)
        }
        let meta: [String: String]
        do { meta = try SafeTensors.readMetadata(url) } catch let e as CheckpointError {
            throw PatchCoreError.modelFile(file: file, reason: e.description)
        }
        let (_, config, info) = try describe(meta, file: file)
        return (config, info)
    }

    /// Format tag, version, configuration and info of a model file's metadata, validated; errors name the file.
    private static func describe(_ meta: [String: String], file: String) throws
    -> (version: Int, config: PatchCoreConfig, info: ModelInfo) {
        guard meta["format"] == formatName else {
            throw PatchCoreError.modelFile(file: file, reason: "no '\(formatName)' format tag (is this a model written by `patchcore fit`?)")
        }
        guard let versionText = meta["format_version"], let version = Int(versionText), version >= 1 else {
            throw PatchCoreError.modelFile(file: file, reason: "format_version must be a whole number >= 1, got '\(meta["format_version"]?.prefix(40) ?? "")'")
        }
        guard version <= formatVersion else {
            throw PatchCoreError.incompatibleModel(file: file, reason: "model format version \(version) is newer than this build supports (\(formatVersion)); upgrade patchcore")
        }
        let config = try decode(meta, "config", file: file) as PatchCoreConfig
        let info = try decode(meta, "model", file: file) as ModelInfo
        try checked(file) { try config.validate(); try info.validate() }
        if let d = config.featureDimension, d != info.featureDimension {
            throw PatchCoreError.modelFile(file: file, reason: "config.feature_dimension \(d) differs from model.feature_dimension \(info.featureDimension)")
        }
        return (version, config, info)
    }

    /// Runs a validation, its configuration error turned into one naming the model file.
    private static func checked(_ file: String, _ validate: () throws -> Void) throws {
        do { try validate() } catch let PatchCoreError.invalidConfiguration(reason) {
            throw PatchCoreError.modelFile(file: file, reason: reason)
        }
    }

    /// Decodes the JSON of one metadata key; a missing key or bad JSON is an error naming the file and the key.
    private static func decode<T: Decodable>(_ meta: [String: String], _ key: String, file: String) throws -> T {
        guard let text = meta[key] else { throw PatchCoreError.modelFile(file: file, reason: "metadata '\(key)' is missing") }
        let data = Data(text.utf8)
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw PatchCoreError.modelFile(file: file, reason: "metadata '\(key)': \(SystemErrorText.describe(error, decoding: data))")
        }
    }
}
