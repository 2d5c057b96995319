import Evaluation
import Foundation
import PatchCore
import Reports
import TensorCore

/// One row of the PatchCore vs PatchCoreDual ablation: a method, its positives, rule and isolation, the metrics of
/// `patchcore evaluate` on the test split, and what it cost.
public struct DualAblationRow: Sendable, Codable, Equatable {
    /// `PatchCore` (single negative bank) or `PatchCoreDual`.
    public var method: String
    /// Which positives built the positive bank: `none`, `real`, `real + 50 synthetic`, `50 synthetic`.
    public var positives: String
    public var realPositives: Int
    public var syntheticPositives: Int
    /// Dual score rule and isolation mode (nil for PatchCore).
    public var rule: String?
    public var isolation: String?
    /// Whether this is the configuration `fit --dual` uses when no rule or isolation is given.
    public var isDefault: Bool
    public var imageAUROC: Double
    public var pixelAUROC: Double?
    public var aupro: Double?
    public var f1Max: Double
    public var averagePrecision: Double
    public var imageAUROCPerDefectType: [String: Double]?
    /// Fit time: training features + negative coreset (+ positive features of the used examples + positive coreset
    /// + log-ratio calibration).
    public var fitSeconds: Double
    /// Bank scoring per image (k-NN + score + patch values) on precomputed features, mean over the timing images.
    public var scoreMsPerImage: Double
    /// Per-image inference (backbone + scoring + map) of this row over that of single-bank PatchCore, both timed
    /// on the same images in alternation.
    public var inferenceRatio: Double
    public var negativeBankRows: Int
    public var positiveBankRows: Int?
    /// Positive patches before the coreset.
    public var positivePatches: Int?
    /// Dual rows: AUROC of s_N alone, of -s_P alone (how well "close to a known defect" separates the test split),
    /// and the means of s_N and s_P over good and defective test images.
    public var diagnostics: DualAblationDiagnostics?

    enum CodingKeys: String, CodingKey {
        case method, positives, rule, isolation, diagnostics
        case realPositives = "real_positives"
        case syntheticPositives = "synthetic_positives"
        case isDefault = "is_default"
        case imageAUROC = "image_auroc"
        case pixelAUROC = "pixel_auroc"
        case aupro
        case f1Max = "f1_max"
        case averagePrecision = "average_precision"
        case imageAUROCPerDefectType = "image_auroc_per_defect_type"
        case fitSeconds = "fit_seconds"
        case scoreMsPerImage = "score_ms_per_image"
        case inferenceRatio = "inference_ratio"
        case negativeBankRows = "negative_bank_rows"
        case positiveBankRows = "positive_bank_rows"
        case positivePatches = "positive_patches"
    }
}

/// Where the dual score's two sides stand on the test split (see `DualAblationRow.diagnostics`).
public struct DualAblationDiagnostics: Sendable, Codable, Equatable {
    /// AUROC of the weighted negative score s_N alone.
    public var negativeOnlyAUROC: Double
    /// AUROC of -s_P alone (small positive distance = defect).
    public var positiveOnlyAUROC: Double
    public var meanNegativeGood: Double
    public var meanNegativeDefect: Double
    public var meanPositiveGood: Double
    public var meanPositiveDefect: Double

    enum CodingKeys: String, CodingKey {
        case negativeOnlyAUROC = "negative_only_auroc"
        case positiveOnlyAUROC = "positive_only_auroc"
        case meanNegativeGood = "mean_s_n_good"
        case meanNegativeDefect = "mean_s_n_defect"
        case meanPositiveGood = "mean_s_p_good"
        case meanPositiveDefect = "mean_s_p_defect"
    }
}

/// The whole ablation: settings, shared timings and one row per configuration. Written as `ablation.json` and
/// `ablation.md` by `DualAblation.run`.
///
/// ```swift
/// let report = try DualAblation.run(extractor: extractor, dataset: ds, options: .init(), out: outURL)
/// print(report.markdown())
/// ```
public struct DualAblationReport: Sendable, Codable, Equatable {
    public var dataset: String
    public var backbone: String
    public var taps: [String]
    public var transform: String
    public var trainImages: Int
    public var testImages: Int
    public var realDefectImages: Int
    /// `classical (<out>/synthetic, seed S)` or the `--positives` folders.
    public var syntheticSource: String?
    public var negativeCoresetRatio: Double
    public var positiveCoresetRatio: Double
    public var defectPadding: Double
    public var numNeighbours: Int
    public var epsilon: Float
    public var seed: UInt64
    /// Default rule and isolation of `fit --dual` (the rows marked `is_default`).
    public var defaultRule: String
    public var defaultIsolation: String
    /// Backbone + patch aggregation per test image, and anomaly map (upsample + blur) per image.
    public var backboneMsPerImage: Double
    public var mapMsPerImage: Double
    public var timingImages: Int
    public var rows: [DualAblationRow]
    /// Skipped images, empty masks, clipped synthetic counts.
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case dataset, backbone, taps, transform, seed, rows, warnings, epsilon
        case trainImages = "train_images"
        case testImages = "test_images"
        case realDefectImages = "real_defect_images"
        case syntheticSource = "synthetic_source"
        case negativeCoresetRatio = "negative_coreset_ratio"
        case positiveCoresetRatio = "positive_coreset_ratio"
        case defectPadding = "defect_padding"
        case numNeighbours = "num_neighbours"
        case defaultRule = "default_rule"
        case defaultIsolation = "default_isolation"
        case backboneMsPerImage = "backbone_ms_per_image"
        case mapMsPerImage = "map_ms_per_image"
        case timingImages = "timing_images"
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The tables: metrics (like the thesis's), cost, and image AUROC per defect type.
    public func markdown() -> String {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f", $0 * 100) } ?? "-" }
        func num(_ x: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", x) }
        var s = "# Ablation: PatchCore vs PatchCoreDual on \(dataset)\n\n"
        s += "Backbone \(backbone) (taps \(taps.joined(separator: ", "))), \(transform); \(trainImages) good training images, "
        s += "\(realDefectImages) real training defects, \(testImages) test images. Negative coreset \(negativeCoresetRatio), "
        s += "positive coreset \(positiveCoresetRatio), defect padding \(defectPadding), b = \(numNeighbours), eps = \(epsilon), seed \(seed)."
        if let syntheticSource { s += " Synthetic positives: \(syntheticSource)." }
        s += "\nMetrics in %. `*` marks the default of `fit --dual` (rule \(defaultRule), isolation \(defaultIsolation)).\n\n"
        s += "| method | positives | rule | isolation | image AUROC | pixel AUROC | AUPRO | F1-max |\n"
        s += "|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += "| \(r.method)\(r.isDefault ? " *" : "") | \(r.positives) | \(r.rule ?? "-") | \(r.isolation ?? "-") | "
            s += "\(pct(r.imageAUROC)) | \(pct(r.pixelAUROC)) | \(pct(r.aupro)) | \(pct(r.f1Max)) |\n"
        }
        s += "\nCost: backbone \(num(backboneMsPerImage)) ms/image, map \(num(mapMsPerImage)) ms/image; scoring timed on "
        s += "\(timingImages) test images; ratio = (backbone + scoring + map) / the same for PatchCore, timed in alternation.\n\n"
        s += "| method | positives | rule | isolation | fit s | scoring ms/image | inference ratio | negative bank | positive bank (patches) | s_N-only AUROC | -s_P-only AUROC |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            let pos = r.positiveBankRows.map { "\($0) (\(r.positivePatches ?? 0))" } ?? "-"
            s += "| \(r.method) | \(r.positives) | \(r.rule ?? "-") | \(r.isolation ?? "-") | \(num(r.fitSeconds, 1)) | "
            s += "\(num(r.scoreMsPerImage)) | \(num(r.inferenceRatio)) | \(r.negativeBankRows) | \(pos) | "
            s += "\(pct(r.diagnostics?.negativeOnlyAUROC)) | \(pct(r.diagnostics?.positiveOnlyAUROC)) |\n"
        }
        let types = Set(rows.flatMap { ($0.imageAUROCPerDefectType ?? [:]).keys }).sorted()
        if !types.isEmpty {
            s += "\nImage AUROC (%) per defect type (each type against all good test images):\n\n"
            s += "| method | positives | rule | isolation | " + types.joined(separator: " | ") + " |\n"
            s += "|---|---|---|---|" + String(repeating: "---|", count: types.count) + "\n"
            for r in rows {
                s += "| \(r.method) | \(r.positives) | \(r.rule ?? "-") | \(r.isolation ?? "-") | "
                s += types.map { pct(r.imageAUROCPerDefectType?[$0]) }.joined(separator: " | ") + " |\n"
            }
        }
        if !warnings.isEmpty {
            s += "\nWarnings (\(warnings.count)):\n\n" + warnings.prefix(20).map { "- \($0)\n" }.joined()
            if warnings.count > 20 { s += "- ... \(warnings.count - 20) more in ablation.json\n" }
        }
        return s
    }

    /// Writes `ablation.json`, `ablation.md` and `ablation.html` into `folder`, atomically.
    public func write(to folder: URL) throws {
        try AtomicFile.write(try jsonData(), to: folder.appendingPathComponent("ablation.json"))
        try AtomicFile.write(Data(markdown().utf8), to: folder.appendingPathComponent("ablation.md"))
        try AtomicFile.write(Data(try htmlPage().html(assets: ChartAssets.load()).utf8), to: folder.appendingPathComponent("ablation.html"))
    }
}
