import Datasets
import Evaluation
import Foundation
import ImageIO
import TensorCore

/// One scored image, as written to predictions files (one JSON object per line).
public struct PredictionRecord: Sendable, Codable, Equatable {
    public var image: String
    public var score: Float
    public var normalizedScore: Float
    public var threshold: Float
    public var anomalous: Bool
    /// The decision rule in words (`score >= threshold`) and where the threshold came from.
    public var decisionRule: String?
    public var model: ModelIdentity?
    /// ISO 8601 time the image was scored.
    public var timestamp: String?
    public var label: String?
    public var defectType: String?
    public var heatmap: String?
    public var latencyMs: Double?
    /// The anomaly map's largest value and the model's map level of the decision colour: the heatmap shows the
    /// decision colour exactly when `mapMax >= mapThreshold`.
    public var mapMax: Float?
    public var mapThreshold: Float?
    /// The model input the image became (`WxH`) and its patch count: they vary per image with the aspect-keeping
    /// geometries (`--short-side`, `--native`).
    public var inputSize: String?
    public var patches: Int?
    /// Where `latencyMs` went, in ms: decode, preprocess, features, search, map (`StageTimings.milliseconds`).
    public var stageMs: [String: Double]?
    /// How the normal bank was searched (`Prediction.search`): a score from an approximate search says so.
    public var search: String?

    public init(image: String, score: Float, normalizedScore: Float, threshold: Float, anomalous: Bool,
                decisionRule: String? = nil, model: ModelIdentity? = nil, timestamp: String? = nil,
                label: String? = nil, defectType: String? = nil, heatmap: String? = nil, latencyMs: Double? = nil) {
        self.image = image; self.score = score; self.normalizedScore = normalizedScore; self.threshold = threshold
        self.anomalous = anomalous; self.decisionRule = decisionRule; self.model = model; self.timestamp = timestamp
        self.label = label; self.defectType = defectType; self.heatmap = heatmap; self.latencyMs = latencyMs
    }

    /// The record of a prediction (threshold and decision from the prediction unless `threshold` overrides them).
    public init(_ p: Prediction, threshold: Float? = nil, label: String? = nil, defectType: String? = nil,
                heatmap: String? = nil, timestamp: Date? = Date()) {
        let t = threshold ?? p.threshold
        self.init(image: p.source, score: p.score, normalizedScore: p.normalizedScore, threshold: t, anomalous: p.score >= t,
                  decisionRule: threshold == nil ? "score >= threshold (\(p.thresholdProvenance))" : "score >= threshold (given)",
                  model: p.model, timestamp: timestamp.map { ISO8601DateFormatter().string(from: $0) },
                  label: label, defectType: defectType, heatmap: heatmap, latencyMs: p.timings.total * 1000)
        mapMax = p.map.scalars.max()
        mapThreshold = p.mapThreshold
        inputSize = "\(p.input.width)x\(p.input.height)"
        patches = p.patchGrid.height * p.patchGrid.width
        stageMs = p.timings.milliseconds
        search = p.search
    }

    enum CodingKeys: String, CodingKey {
        case image, score, threshold, anomalous, label, heatmap, model, timestamp
        case normalizedScore = "normalized_score"
        case decisionRule = "decision_rule"
        case defectType = "defect_type"
        case latencyMs = "latency_ms"
        case mapMax = "map_max", mapThreshold = "map_threshold"
        case inputSize = "input_size", patches
        case stageMs = "stage_ms"
        case search
    }

    /// One JSON line (sorted keys, newline-terminated).
    public func jsonLine() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(self)
        line.append(0x0A)
        return line
    }

    /// Writes records as JSON lines, atomically.
    public static func writeJSONLines(_ records: [PredictionRecord], to url: URL) throws {
        var lines = Data()
        for r in records { lines.append(try r.jsonLine()) }
        try AtomicFile.write(lines, to: url)
    }
}

/// Scores a labelled test split and computes image and pixel metrics, and the false-reject and escape rates at
/// the model's own threshold (the same `score >= threshold` rule as the F1 threshold it reports).
///
/// ```swift
/// let run = try PatchCoreEvaluator.evaluate(scorer: scorer, samples: dataset.test, fitSeconds: 12.3) { print($0) }
/// print(run.report.textTable())
/// ```
public enum PatchCoreEvaluator {
    public struct Run: Sendable {
        public var report: EvaluationReport
        public var records: [PredictionRecord]
        public var skipped: [SkippedImage]
    }

    /// A data set's test split (files).
    public static func evaluate(scorer: PatchCoreScorer, samples: [Sample], fitSeconds: Double,
                                datasetName: String? = nil, skipBad: Bool = false,
                                heatmap: ((Prediction, LabelledImage, Image?) throws -> String?)? = nil,
                                progress: ProgressHandler? = nil) throws -> Run {
        try evaluate(scorer: scorer, images: samples.map(LabelledImage.init), fitSeconds: fitSeconds, datasetName: datasetName,
                     skipBad: skipBad, heatmap: heatmap, progress: progress)
    }

    /// The map on the camera's pixels against the mask as it was given. Pixels the model never saw (outside a centre
    /// crop) score below every seen pixel: a defect there counts as missed.
    static func groundTruthResolution(_ p: Prediction, mask: Image?) throws -> ScoredMask {
        let map = p.mapOnOriginal()
        let unseen = -Float.greatestFiniteMagnitude
        let scores = map.scalars.map { $0.isNaN ? unseen : $0 }
        let gray = mask.map { $0.channels == 1 ? $0 : $0.toGray() }
        return try ScoredMask(width: p.original.width, height: p.original.height, scores: scores,
                              mask: gray.map { $0.pixels.map { $0 > 127 ? 1 : 0 } })
    }

    /// Whether the model saw the whole image at its own size (native scale 1), so its map is already on the ground
    /// truth's pixels.
    static func seesWholeImageAtItsSize(_ p: Prediction) -> Bool {
        p.input.width == p.original.width && p.input.height == p.original.height && p.sourceRegion.x == 0
            && p.sourceRegion.y == 0 && Int(p.sourceRegion.width) == p.original.width
            && Int(p.sourceRegion.height) == p.original.height
    }

    /// Labelled images from files or memory.
    /// - Parameters:
    ///   - heatmap: called with each prediction, its item and its prepared mask (e.g. to write overlays); returns the
    ///     path it wrote.
    public static func evaluate(scorer: PatchCoreScorer, images samples: [LabelledImage], fitSeconds: Double,
                                datasetName: String? = nil, skipBad: Bool = false,
                                heatmap: ((Prediction, LabelledImage, Image?) throws -> String?)? = nil,
                                progress: ProgressHandler? = nil) throws -> Run {
        guard !samples.isEmpty else { throw PatchCoreError.invalidConfiguration("the test split of \(datasetName ?? "the data set") is empty") }
        var scores: [Float] = [], labels: [Bool] = [], types: [String] = []
        var pixels: [ScoredMask] = [], inputPixels: [ScoredMask] = []
        var allNative = true   // every input so far is its image at its own size, whole
        var records: [PredictionRecord] = []
        var skipped: [SkippedImage] = []
        var inferenceSeconds = 0.0, preprocessSeconds = 0.0
        let anyMasks = samples.contains { $0.mask != nil }
        var step = StageProgress(.evaluation, total: samples.count, handler: progress)
        for sample in samples {
            let image: Image
            var mask: Image?, rawMask: Image?
            do {
                (image, rawMask, mask) = try scorer.extractor.readTestSampleAtBothResolutions(sample)
            } catch {
                guard skipBad else { throw error }
                skipped.append(SkippedImage(file: sample.image.name, reason: SystemErrorText.describe(error)))
                try step.advance()
                continue
            }
            let p = try scorer.predict(image, name: sample.image.name)
            preprocessSeconds += p.timings.preprocess
            inferenceSeconds += p.timings.features + p.timings.search + p.timings.map
            scores.append(p.score)
            labels.append(sample.label == .defect)
            types.append(sample.defectType)
            if anyMasks {
                inputPixels.append(try ScoredMask(map: p.map, mask: mask.map { $0.pixels.map { $0 > 127 ? 1 : 0 } }))
                // At native size the input is the ground truth's resolution: no second copy of the pixels.
                if !seesWholeImageAtItsSize(p) { allNative = false }
                pixels.append(allNative ? inputPixels[inputPixels.count - 1] : try groundTruthResolution(p, mask: rawMask))
            }
            let heatmapPath = try heatmap?(p, sample, mask)
            records.append(PredictionRecord(p, label: sample.label.rawValue, defectType: sample.defectType, heatmap: heatmapPath))
            try step.advance()
        }
        guard !scores.isEmpty else { throw PatchCoreError.badImages(skipped.map { "\($0.file): \($0.reason)" }) }
        var report = try Metrics.evaluate(imageScores: scores, imageLabels: labels, defectTypes: types, pixels: pixels,
                                          inputPixels: allNative ? [] : inputPixels, fitSeconds: fitSeconds, inferenceSecondsPerImage: inferenceSeconds / Double(scores.count),
                                          dataset: datasetName, model: scorer.model.config.backbone)
        if allNative { (report.pixelAUROCInput, report.auproInput) = (report.pixelAUROC, report.aupro) }
        report.preprocessSecondsPerImage = preprocessSeconds / Double(scores.count)
        let threshold = scorer.calibration.threshold
        report.threshold = threshold
        let rates = decisionRates(scores: scores, labels: labels, threshold: threshold)
        report.falseRejectRate = rates.falseReject
        report.escapeRate = rates.escape
        return Run(report: report, records: records, skipped: skipped)
    }

    /// Share of good images at or above `threshold` and of defective ones below it (nil when a class is absent).
    public static func decisionRates(scores: [Float], labels: [Bool], threshold: Float) -> (falseReject: Double?, escape: Double?) {
        var good = 0, rejected = 0, defects = 0, escaped = 0
        for (s, isDefect) in zip(scores, labels) {
            if isDefect { defects += 1; if s < threshold { escaped += 1 } } else { good += 1; if s >= threshold { rejected += 1 } }
        }
        return (good > 0 ? Double(rejected) / Double(good) : nil, defects > 0 ? Double(escaped) / Double(defects) : nil)
    }
}
