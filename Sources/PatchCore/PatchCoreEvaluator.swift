import Datasets
import Evaluation
import Foundation
import ImageIO
import TensorCore

/// One scored test image, as written to predictions files.
public struct PredictionRecord: Sendable, Codable, Equatable {
    public var image: String
    public var score: Float
    public var normalizedScore: Float
    public var threshold: Float
    public var anomalous: Bool
    public var label: String?
    public var defectType: String?
    public var heatmap: String?

    public init(image: String, score: Float, normalizedScore: Float, threshold: Float, anomalous: Bool,
                label: String?, defectType: String?, heatmap: String?) {
        self.image = image; self.score = score; self.normalizedScore = normalizedScore; self.threshold = threshold
        self.anomalous = anomalous; self.label = label; self.defectType = defectType; self.heatmap = heatmap
    }

    enum CodingKeys: String, CodingKey {
        case image, score, threshold, anomalous, label, heatmap
        case normalizedScore = "normalized_score"
        case defectType = "defect_type"
    }
}

extension PredictionRecord {
    /// Writes records as JSON lines (one object per image, sorted keys), atomically.
    public static func writeJSONLines(_ records: [PredictionRecord], to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var lines = Data()
        for r in records { lines.append(try encoder.encode(r)); lines.append(0x0A) }
        try AtomicFile.write(lines, to: url)
    }
}

/// Scores a labelled test split and computes image and pixel metrics.
///
/// ```swift
/// let run = try PatchCoreEvaluator.evaluate(scorer: scorer, samples: dataset.test, fitSeconds: 12.3)
/// print(run.report.textTable())
/// ```
public enum PatchCoreEvaluator {
    public struct Run: Sendable {
        public var report: EvaluationReport
        public var records: [PredictionRecord]
        public var skipped: [SkippedImage]
    }

    /// - Parameter heatmaps: folder for overlay PNGs (`<defect type>/<name>.png`), or nil for none.
    public static func evaluate(scorer: PatchCoreScorer, samples: [Sample], fitSeconds: Double,
                                datasetName: String? = nil, heatmaps: URL? = nil, skipBad: Bool = false,
                                showProgress: Bool = true) throws -> Run {
        guard !samples.isEmpty else { throw PatchCoreError.invalidConfiguration("the test split is empty") }
        var scores: [Float] = [], labels: [Bool] = [], types: [String] = []
        var pixels: [ScoredMask] = []
        var records: [PredictionRecord] = []
        var skipped: [SkippedImage] = []
        var inferenceSeconds = 0.0, preprocessSeconds = 0.0
        let anyMasks = samples.contains { $0.mask != nil }
        let progress = ProgressReporter("evaluate", total: samples.count, enabled: showProgress)
        for sample in samples {
            defer { progress.advance() }
            let image: Image
            var mask: Image?
            do {
                (image, mask) = try scorer.extractor.readTestSample(sample)
            } catch {
                guard skipBad else { throw error }
                skipped.append(SkippedImage(file: sample.image.path, reason: "\(error)"))
                continue
            }
            let t0 = Date()
            let input = scorer.extractor.prepare(image)
            let t1 = Date()
            let p = try scorer.predict(prepared: input)
            preprocessSeconds += t1.timeIntervalSince(t0)
            inferenceSeconds += Date().timeIntervalSince(t1)
            scores.append(p.score)
            labels.append(sample.label == .defect)
            types.append(sample.defectType)
            if anyMasks {
                pixels.append(try ScoredMask(map: p.map, mask: mask.map { $0.pixels.map { $0 > 127 ? 1 : 0 } }))
            }
            var heatmapPath: String?
            if let heatmaps {
                let url = heatmaps.appendingPathComponent(sample.defectType)
                    .appendingPathComponent(sample.image.deletingPathExtension().lastPathComponent + ".png")
                try HeatmapWriter.write(p, model: scorer.model, to: url)
                heatmapPath = url.path
            }
            records.append(PredictionRecord(image: sample.image.path, score: p.score, normalizedScore: p.normalizedScore,
                                            threshold: p.threshold, anomalous: p.isAnomalous, label: sample.label.rawValue,
                                            defectType: sample.defectType, heatmap: heatmapPath))
        }
        progress.finish()
        guard !scores.isEmpty else { throw PatchCoreError.badImages(skipped.map { "\($0.file): \($0.reason)" }) }
        var report = try Metrics.evaluate(imageScores: scores, imageLabels: labels, defectTypes: types, pixels: pixels,
                                          fitSeconds: fitSeconds, inferenceSecondsPerImage: inferenceSeconds / Double(scores.count),
                                          dataset: datasetName, model: scorer.model.config.backbone)
        report.preprocessSecondsPerImage = preprocessSeconds / Double(scores.count)
        return Run(report: report, records: records, skipped: skipped)
    }
}

/// Heatmap overlays with one colour scale per model, so maps of different images compare by eye:
/// blue at the median training score level, red at twice the threshold. Dual models use the statistics of their
/// training maps' maxima (`DualBankInfo.mapCalibration`), since their image scores are not in map units.
public enum HeatmapWriter {
    public static func write(_ p: Prediction, model: PatchCoreModel, to url: URL) throws {
        let cal = model.dual?.mapCalibration ?? model.info.calibration
        let lo = cal.min * 0.5
        let hi = Swift.max(cal.threshold * 1.5, lo + 1e-6)
        try Heatmap.writeOverlay(p.map, on: p.input, min: lo, max: hi, to: url)
    }
}
