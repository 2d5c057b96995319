import Backbones
import Foundation
import ImageIO
import MemoryBank
import Scoring
import TensorCore

/// Which model scored an image: its content id and, when a `ModelStore` holds it, the name and version.
public struct ModelIdentity: Sendable, Codable, Equatable, CustomStringConvertible {
    public var id: String
    public var name: String?
    public var version: Int?

    public init(id: String, name: String? = nil, version: Int? = nil) { self.id = id; self.name = name; self.version = version }

    public var description: String {
        (name.map { "\($0)" + (version.map { " v\($0)" } ?? "") + " " } ?? "") + id
    }
}

/// Seconds spent per stage of scoring one image.
public struct StageTimings: Sendable, Codable, Equatable {
    /// Reading and decoding the file or bytes (0 for decoded images).
    public var decode: Double = 0
    /// Resize / crop / colour conversion to the model input.
    public var preprocess: Double = 0
    /// Backbone and patch aggregation.
    public var features: Double = 0
    /// Nearest-neighbour search and the image score.
    public var search: Double = 0
    /// Upsampling and blurring the patch scores into the anomaly map.
    public var map: Double = 0

    public var total: Double { decode + preprocess + features + search + map }

    /// Each stage in milliseconds (rounded to 0.01 ms) under its coding key, as `predictions.jsonl`'s `stage_ms`.
    public var milliseconds: [String: Double] {
        let stages: [(CodingKeys, Double)] = [(.decode, decode), (.preprocess, preprocess), (.features, features),
                                              (.search, search), (.map, map)]
        return Dictionary(uniqueKeysWithValues: stages.map { ($0.0.rawValue, ($0.1 * 1e5).rounded() / 100) })
    }

    enum CodingKeys: String, CodingKey { case decode, preprocess, features, search, map }
}

/// The decision on one image.
public enum Decision: String, Sendable, Codable {
    case ok
    case anomalous
}

/// Everything a user interface shows about one scored image.
public struct Prediction: Sendable {
    /// The image's name (file path or the name given with the bytes).
    public var source: String
    /// Raw image score (distance units of the feature space; for dual rules, that rule's units).
    public var score: Float
    /// 0 at the median held-out good score, 1.0 at the threshold (`ModelCalibration.normalise`).
    public var normalizedScore: Float
    public var threshold: Float
    /// Where the threshold came from.
    public var thresholdProvenance: ThresholdProvenance
    /// `score >= threshold`.
    public var decision: Decision
    public var isAnomalous: Bool { decision == .anomalous }
    /// Anomaly map at the model input size, (H, W).
    public var map: Tensor
    /// The model's heatmap scale (per model, from its calibration): transparent at or below `mapLow`, decision
    /// colour at or above `mapThreshold`.
    public var mapLow: Float
    public var mapThreshold: Float
    /// The image as the model saw it (RGB at the input size).
    public var input: Image
    /// The image as it was given (decoded), for overlays at the camera's resolution.
    public var original: Image
    /// Where `input` came from in `original`'s pixels (the centre crop mapped back through the resize).
    public var sourceRegion: (x: Double, y: Double, width: Double, height: Double)
    public var timings: StageTimings
    public var model: ModelIdentity
    /// The patch grid the image was scored on (rows x columns of the finest tap).
    public var patchGrid: (height: Int, width: Int) = (0, 0)
    /// How the normal bank was searched: "exact", or the approximate search with its probes and lists.
    public var search = "exact"

    /// The anomaly map on the original image's pixel grid (bilinear; NaN where the model saw nothing, e.g.
    /// outside the centre crop).
    public func mapOnOriginal() -> Tensor {
        Heatmap.project(map, covering: sourceRegion, ontoWidth: original.width, height: original.height)
    }
}

/// Scores images with a fitted model. Loads the backbone once and is immutable afterwards, so one scorer serves
/// concurrent `predict` calls from many tasks (the banks, the backbone's weights and the calibration are read
/// only; every call has its own buffers). OpenBLAS and the `Parallel` loops share the process-wide thread count
/// set by `ComputeThreads.set` (default: all cores): concurrent calls divide those cores between them.
/// A dual model is scored with its `DualScoring` rule from the same single backbone pass.
///
/// ```swift
/// let model = try ModelFile.read(URL(fileURLWithPath: "bottle.safetensors"))
/// let scorer = try PatchCoreScorer(model: model, weights: try WeightsCatalog.locate(model.config.backbone))
/// let p = try scorer.predict(.file(url))
/// print(p.score, p.decision, p.normalizedScore)
/// ```
public final class PatchCoreScorer: Sendable {
    public let model: PatchCoreModel
    public let extractor: FeatureExtractor
    public let identity: ModelIdentity
    let calibration: ModelCalibration
    let scorer: ImageScorer
    /// How the normal bank is searched.
    public let search: SearchMethod
    /// `search` as applied to this model's bank ("exact", or "inverted file: P of L lists (approximate)").
    public let searchSummary: String

    public convenience init(model: PatchCoreModel, weights: URL, name: String? = nil, version: Int? = nil,
                            search: SearchMethod = .exact) throws {
        try self.init(model: model, extractor: FeatureExtractor(config: model.config, weights: weights), name: name,
                      version: version, search: search)
    }

    /// Reads a model file and builds its scorer (weights: given, else the cached weights of its backbone). A backbone
    /// or tap that the file names but this build cannot run is reported against the model file.
    public static func load(_ file: URL, weights: URL? = nil, name: String? = nil, version: Int? = nil,
                            search: SearchMethod = .exact) throws -> PatchCoreScorer {
        let model = try ModelFile.read(file)
        do {
            let weights = try weights ?? WeightsCatalog.locate(model.config.backbone)
            return try PatchCoreScorer(model: model, weights: weights, name: name, version: version, search: search)
        } catch let PatchCoreError.invalidConfiguration(reason) {
            throw PatchCoreError.modelFile(file: file.path, reason: reason)
        } catch let error as BackboneError {
            throw PatchCoreError.modelFile(file: file.path, reason: error.description)
        }
    }

    /// Reuses an extractor (e.g. the one that fitted the model). `search` chooses how the normal bank is searched
    /// (exact unless asked; an inverted-file index is trained here, about 0.2 s for a 50,000-row bank).
    public init(model: PatchCoreModel, extractor: FeatureExtractor, name: String? = nil, version: Int? = nil,
                search: SearchMethod = .exact) throws {
        guard extractor.weightsSHA256 == model.info.weightsSHA256 else {
            throw PatchCoreError.incompatibleModel(file: name ?? "model \(model.id)",
                reason: "was fitted with weights of SHA-256 \(model.info.weightsSHA256.prefix(12))…, but the given weights are \(extractor.weightsSHA256.prefix(12))…; pass the weights the model was fitted with")
        }
        // Fitting settings (coreset ratio, seed) may differ: a dual fit replaces the ratio with its negative one.
        guard extractor.config.extractsSameFeatures(as: model.config) else {
            throw PatchCoreError.incompatibleModel(file: name ?? "model \(model.id)", reason: "the feature extractor's configuration differs from the model's")
        }
        self.model = model
        self.extractor = extractor
        identity = ModelIdentity(id: model.id, name: name, version: version)
        calibration = model.calibration
        let positive = model.banks.positive
        let bank: MemoryBank
        do {
            bank = try search.apply(to: model.banks.normal)
        } catch {
            throw PatchCoreError.incompatibleModel(file: name ?? "model \(model.id)", reason: "search \(search): \(error)")
        }
        scorer = ImageScorer(config: model.config, bank: bank, positive: positive?.bank, dual: positive?.info.scoring)
        self.search = search
        searchSummary = scorer.bank.invertedFile.map { "inverted file: \($0.probes) of \($0.lists) lists (approximate)" } ?? "exact"
    }

    /// Scores one image from a file, bytes or pixels.
    public func predict(_ source: ImageSource) throws -> Prediction {
        let t0 = Date()
        let image = try source.load()
        var p = try predict(image, name: source.name)
        p.timings.decode = Date().timeIntervalSince(t0) - p.timings.total
        return p
    }

    /// Scores a decoded image.
    public func predict(_ image: Image, name: String = "image") throws -> Prediction {
        let t0 = Date()
        let input = try extractor.prepare(image, file: name)
        var p = try predict(prepared: input, name: name)
        p.timings.preprocess = Date().timeIntervalSince(t0) - p.timings.total
        p.original = image
        p.sourceRegion = model.config.transform.sourceRegion(width: image.width, height: image.height)
        // A padded input (`config.pad`) holds the image in its top-left part: the map's region grows by the padding.
        let content = model.config.transform.inputSize(forWidth: image.width, height: image.height)
        if input.width > content.width || input.height > content.height {
            p.sourceRegion.width *= Double(input.width) / Double(content.width)
            p.sourceRegion.height *= Double(input.height) / Double(content.height)
        }
        return p
    }

    /// Scores an image already at the model input size (`extractor.prepare`).
    public func predict(prepared input: Image, name: String = "image") throws -> Prediction {
        var timings = StageTimings()
        var clock = Date()
        func lap() -> Double { let now = Date(); defer { clock = now }; return now.timeIntervalSince(clock) }
        let set = try extractor.patchFeatures([input])
        timings.features = lap()
        let (patchScores, patchScore) = try scorer.score(features: set.features)
        timings.search = lap()
        // The map takes the prepared input's size: fixed for resize geometries, the image's own for native ones.
        let maps = AnomalyMapGenerator(height: input.height, width: input.width, sigma: Double(model.config.blurSigma))
        let map = try maps.maps(patchScores: patchScores, grid: (set.grid.height, set.grid.width))
        let score = model.config.imageScore(patchScore: patchScore, map: map.scalars, dual: scorer.positive != nil)
        timings.map = lap()
        var prediction = Prediction(source: name, score: score, normalizedScore: calibration.normalise(score),
                          threshold: calibration.threshold, thresholdProvenance: calibration.provenance,
                          decision: calibration.isAnomalous(score) ? .anomalous : .ok,
                          map: map.reshaped([map.shape[1], map.shape[2]]), mapLow: calibration.mapLow,
                          mapThreshold: calibration.mapThreshold, input: input, original: input,
                          sourceRegion: (0, 0, Double(input.width), Double(input.height)), timings: timings, model: identity)
        prediction.patchGrid = (set.grid.height, set.grid.width)
        prediction.search = searchSummary
        return prediction
    }

    public func predict(contentsOf url: URL) throws -> Prediction { try predict(.file(url)) }

    /// The model input size `warmUp` scores: the geometry's fixed input size, else the first training image's (its
    /// recorded patch grid times the finest tap's stride), within `InputTransform.minimumSide...maxInputSide` a side.
    public var warmUpSize: (width: Int, height: Int) {
        if let fixed = model.config.transform.fixedInputSize { return fixed }
        let sides = InputTransform.minimumSide...PatchCoreConfig.maxInputSide
        func side(_ cells: Int) -> Int { min(max(cells * extractor.finestStride, sides.lowerBound), sides.upperBound) }
        return (side(model.info.gridWidth), side(model.info.gridHeight))
    }

    /// Scores one mid-grey image at `warmUpSize` and discards the result, so that the first part a line sends does
    /// not pay for the first touch of the backbone's and the search's buffers (at 1,000 x 1,000 about 35 ms of page
    /// faults, bench/RESULTS.md): the model warm-up of serving systems such as Triton. Returns the seconds it took.
    @discardableResult
    public func warmUp() throws -> Double {
        let t0 = Date()
        let (width, height) = warmUpSize
        let grey = Image(width: width, height: height, channels: 3, pixels: [UInt8](repeating: 128, count: width * height * 3))
        _ = try predict(prepared: grey, name: "warm-up")
        return Date().timeIntervalSince(t0)
    }
}
