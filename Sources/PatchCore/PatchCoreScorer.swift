import Foundation
import ImageIO
import MemoryBank
import Scoring
import TensorCore

/// The result of scoring one image.
public struct Prediction: Sendable {
    /// Raw image score (distance units of the feature space).
    public var score: Float
    /// Score normalised with the training-score statistics (min-max of training scores).
    public var normalizedScore: Float
    public var threshold: Float
    public var isAnomalous: Bool { score > threshold }
    /// Anomaly map at the model input size, (H, W).
    public var map: Tensor
    /// The image as the model saw it (RGB at the input size), for overlays.
    public var input: Image
}

/// Scores images with a fitted model. Loads the backbone once; immutable, so one scorer serves many callers.
/// A dual model (with a positive bank) is scored with its `DualScoring` rule from the same single backbone pass;
/// maps, calibration and threshold work as for a single-bank model.
///
/// ```swift
/// let model = try ModelFile.read(URL(fileURLWithPath: "bottle.safetensors"))
/// let scorer = try PatchCoreScorer(model: model, weights: try WeightsCatalog.locate(model.config.backbone))
/// let p = try scorer.predict(ImageFile.read(url))
/// print(p.score, p.isAnomalous)
/// ```
public final class PatchCoreScorer: Sendable {
    public let model: PatchCoreModel
    public let extractor: FeatureExtractor
    let scorer: ImageScorer
    let maps: AnomalyMapGenerator

    public convenience init(model: PatchCoreModel, weights: URL) throws {
        try self.init(model: model, extractor: FeatureExtractor(config: model.config, weights: weights))
    }

    /// Reuses an extractor (e.g. the one that fitted the model).
    public init(model: PatchCoreModel, extractor: FeatureExtractor) throws {
        guard extractor.weightsSHA256 == model.info.weightsSHA256 else {
            throw PatchCoreError.incompatibleModel(file: "model",
                reason: "was fitted with weights of SHA-256 \(model.info.weightsSHA256.prefix(12))…, but the given weights are \(extractor.weightsSHA256.prefix(12))…; pass the weights the model was fitted with")
        }
        self.model = model
        self.extractor = extractor
        scorer = ImageScorer(config: model.config, bank: try MemoryBank(features: model.bank),
                             positive: try model.positiveBank.map { try MemoryBank(features: $0) }, dual: model.dual?.scoring)
        let size = model.config.transform.inputSize
        maps = AnomalyMapGenerator(height: size.height, width: size.width, sigma: Double(model.config.blurSigma))
    }

    public func predict(_ image: Image) throws -> Prediction {
        try predict(prepared: extractor.prepare(image))
    }

    /// Scores an image already at the model input size (`extractor.prepare`).
    public func predict(prepared input: Image) throws -> Prediction {
        let set = try extractor.patchFeatures([input])
        let (patchScores, score) = try scorer.score(features: set.features)
        let map = try maps.maps(patchScores: patchScores, grid: (set.grid.height, set.grid.width))
        let cal = model.info.calibration
        return Prediction(score: score, normalizedScore: cal.normalise(score), threshold: cal.threshold,
                          map: map.reshaped([map.shape[1], map.shape[2]]), input: input)
    }

    public func predict(contentsOf url: URL) throws -> Prediction {
        try predict(ImageFile.read(url))
    }
}
