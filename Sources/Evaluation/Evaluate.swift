import Foundation

extension Metrics {
    /// Computes every metric of an `EvaluationReport` from test-set outputs.
    ///
    /// - Parameters:
    ///   - imageScores / imageLabels: one score and label (`true` = defect) per test image.
    ///   - defectTypes: optional defect type per test image (`"good"` for good ones) for per-type image AUROC
    ///     (each type against all good images) and, with `pixels`, per-type pixel AUROC (the pixels of that type's
    ///     images and of the good images: which kind of defect the maps miss).
    ///   - pixels: anomaly maps with masks for the same images; pixel AUROC and AUPRO are `nil` when it is
    ///     empty or holds no defect pixel.
    ///   - inputPixels: optionally the same maps and masks at the model input's resolution when `pixels` are at
    ///     the ground truth's own (`pixel_auroc_input`, `aupro_input`).
    /// ```swift
    /// let report = try Metrics.evaluate(imageScores: s, imageLabels: y, pixels: maps,
    ///                                   fitSeconds: 12, inferenceSecondsPerImage: 0.02)
    /// ```
    /// - Throws: `MetricError` when the image-level metrics are undefined (e.g. no good or no defect image).
    public static func evaluate(imageScores: [Float], imageLabels: [Bool], defectTypes: [String]? = nil,
                                pixels: [ScoredMask] = [], inputPixels: [ScoredMask] = [], fitSeconds: Double, inferenceSecondsPerImage: Double,
                                dataset: String? = nil, model: String? = nil) throws -> EvaluationReport {
        let auc = try auroc(scores: imageScores, labels: imageLabels)
        let ap = try averagePrecision(scores: imageScores, labels: imageLabels)
        let f1 = try f1Max(scores: imageScores, labels: imageLabels)
        var perType: [String: Double]? = nil, pixelPerType: [String: Double]? = nil
        if let defectTypes {
            guard defectTypes.count == imageScores.count else {
                throw MetricError.countMismatch(metric: "per-defect-type AUROC", scores: imageScores.count, labels: defectTypes.count)
            }
            var result: [String: Double] = [:]
            let types = Set(zip(defectTypes, imageLabels).filter { $0.1 }.map(\.0))
            for type in types {
                let keep = imageScores.indices.filter { !imageLabels[$0] || defectTypes[$0] == type }
                result[type] = try auroc(scores: keep.map { imageScores[$0] }, labels: keep.map { imageLabels[$0] })
            }
            perType = result
            if pixels.count == imageScores.count, pixels.contains(where: { $0.defectPixelCount > 0 }) {
                var pixelResult: [String: Double] = [:]
                for type in types {
                    let keep = pixels.indices.filter { !imageLabels[$0] || defectTypes[$0] == type }
                    let subset = keep.map { pixels[$0] }
                    // A type whose masks are all empty has no pixel AUROC (left out, not an error).
                    if subset.contains(where: { $0.defectPixelCount > 0 }) { pixelResult[type] = try pixelAUROC(subset) }
                }
                pixelPerType = pixelResult
            }
        }
        var pixelAUC: Double? = nil, pro: Double? = nil
        if pixels.contains(where: { $0.defectPixelCount > 0 }) {
            pixelAUC = try pixelAUROC(pixels)
            pro = try aupro(pixels)
        }
        var report = EvaluationReport(imageAUROC: auc, pixelAUROC: pixelAUC, aupro: pro, f1Max: f1.f1, averagePrecision: ap,
                                      nTestImages: imageScores.count, fitSeconds: fitSeconds,
                                      inferenceSecondsPerImage: inferenceSecondsPerImage, f1Threshold: f1.threshold,
                                      imageAUROCPerDefectType: perType, dataset: dataset, model: model)
        report.pixelAUROCPerDefectType = pixelPerType
        if inputPixels.contains(where: { $0.defectPixelCount > 0 }) {
            report.pixelAUROCInput = try pixelAUROC(inputPixels)
            report.auproInput = try aupro(inputPixels)
        }
        return report
    }
}
