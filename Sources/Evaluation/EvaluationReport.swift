import Foundation

/// The result of evaluating a fitted model on a test set, saved as JSON with snake_case keys:
/// `image_auroc`, `pixel_auroc`, `aupro` (pixel metrics at the ground truth's own resolution when the caller has it,
/// see `pixel_auroc_input`), `f1_max`, `average_precision`, `n_test_images`, `fit_seconds`,
/// `inference_seconds_per_image` (always present; pixel metrics are `null` when the test set has no masks),
/// plus optional extras `pixel_auroc_input` and `aupro_input` (the same metrics at the model input's resolution,
/// comparable with results that resize the masks to the input), `f1_threshold`, `image_auroc_per_defect_type` (each defect type against the good images),
/// `pixel_auroc_per_defect_type` (the pixels of each defect type's images and of the good images, at the resolution of
/// `pixel_auroc`),
/// `dataset` and `model`.
///
/// ```swift
/// let report = EvaluationReport(imageAUROC: 0.99, pixelAUROC: 0.97, aupro: 0.9, f1Max: 0.95,
///                               averagePrecision: 0.99, nTestImages: 83, fitSeconds: 12.5,
///                               inferenceSecondsPerImage: 0.02)
/// print(report.textTable())
/// try JSONEncoder().encode(report)
/// ```
public struct EvaluationReport: Sendable, Codable, Equatable {
    public var imageAUROC: Double
    public var pixelAUROC: Double?
    public var aupro: Double?
    /// Pixel AUROC and AUPRO at the model input's resolution (masks brought through the input geometry), when the
    /// main pixel metrics are at the ground truth's own resolution.
    public var pixelAUROCInput: Double?
    public var auproInput: Double?
    public var f1Max: Double
    public var averagePrecision: Double
    public var nTestImages: Int
    public var fitSeconds: Double
    /// Model time per image: features, nearest neighbours, score and map, from the decoded image at input size.
    public var inferenceSecondsPerImage: Double
    /// Resizing/cropping a decoded image to the input size (not part of `inferenceSecondsPerImage`).
    public var preprocessSecondsPerImage: Double?
    /// Image-score threshold that reaches `f1Max` (scores `>=` it are defects).
    public var f1Threshold: Float?
    /// The model's own decision threshold (`score >= threshold` is a defect) and, at it, the share of good test
    /// images flagged (false rejects) and of defective ones passed (escapes).
    public var threshold: Float?
    public var falseRejectRate: Double?
    public var escapeRate: Double?
    /// Image AUROC of each defect type against all good test images.
    public var imageAUROCPerDefectType: [String: Double]?
    /// Pixel AUROC over the pixels of each defect type's images and of the good test images (where `pixelAUROC` is).
    public var pixelAUROCPerDefectType: [String: Double]?
    /// Free-form names for the table header.
    public var dataset: String?
    public var model: String?

    public init(imageAUROC: Double, pixelAUROC: Double?, aupro: Double?, f1Max: Double, averagePrecision: Double,
                nTestImages: Int, fitSeconds: Double, inferenceSecondsPerImage: Double,
                f1Threshold: Float? = nil, imageAUROCPerDefectType: [String: Double]? = nil,
                dataset: String? = nil, model: String? = nil) {
        self.imageAUROC = imageAUROC; self.pixelAUROC = pixelAUROC; self.aupro = aupro; self.f1Max = f1Max
        self.averagePrecision = averagePrecision; self.nTestImages = nTestImages; self.fitSeconds = fitSeconds
        self.inferenceSecondsPerImage = inferenceSecondsPerImage; self.f1Threshold = f1Threshold
        self.imageAUROCPerDefectType = imageAUROCPerDefectType; self.dataset = dataset; self.model = model
    }

    enum CodingKeys: String, CodingKey {
        case imageAUROC = "image_auroc"
        case pixelAUROC = "pixel_auroc"
        case aupro
        case pixelAUROCInput = "pixel_auroc_input"
        case auproInput = "aupro_input"
        case f1Max = "f1_max"
        case averagePrecision = "average_precision"
        case nTestImages = "n_test_images"
        case fitSeconds = "fit_seconds"
        case inferenceSecondsPerImage = "inference_seconds_per_image"
        case preprocessSecondsPerImage = "preprocess_seconds_per_image"
        case f1Threshold = "f1_threshold"
        case threshold
        case falseRejectRate = "false_reject_rate"
        case escapeRate = "escape_rate"
        case imageAUROCPerDefectType = "image_auroc_per_defect_type"
        case pixelAUROCPerDefectType = "pixel_auroc_per_defect_type"
        case dataset, model
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(imageAUROC, forKey: .imageAUROC)
        try c.encode(pixelAUROC, forKey: .pixelAUROC)   // null when absent: the key is always there
        try c.encode(aupro, forKey: .aupro)
        try c.encodeIfPresent(pixelAUROCInput, forKey: .pixelAUROCInput)
        try c.encodeIfPresent(auproInput, forKey: .auproInput)
        try c.encode(f1Max, forKey: .f1Max)
        try c.encode(averagePrecision, forKey: .averagePrecision)
        try c.encode(nTestImages, forKey: .nTestImages)
        try c.encode(fitSeconds, forKey: .fitSeconds)
        try c.encode(inferenceSecondsPerImage, forKey: .inferenceSecondsPerImage)
        try c.encodeIfPresent(preprocessSecondsPerImage, forKey: .preprocessSecondsPerImage)
        try c.encodeIfPresent(f1Threshold, forKey: .f1Threshold)
        try c.encodeIfPresent(threshold, forKey: .threshold)
        try c.encodeIfPresent(falseRejectRate, forKey: .falseRejectRate)
        try c.encodeIfPresent(escapeRate, forKey: .escapeRate)
        try c.encodeIfPresent(imageAUROCPerDefectType, forKey: .imageAUROCPerDefectType)
        try c.encodeIfPresent(pixelAUROCPerDefectType, forKey: .pixelAUROCPerDefectType)
        try c.encodeIfPresent(dataset, forKey: .dataset)
        try c.encodeIfPresent(model, forKey: .model)
    }

    /// Pretty, key-sorted JSON.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    /// Rows as (label, formatted value); shared by the text and Markdown renderings.
    public var rows: [(String, String)] {
        func m(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "n/a" }
        var r: [(String, String)] = [
            ("image AUROC", m(imageAUROC)),
            ("pixel AUROC", m(pixelAUROC)),
            ("AUPRO@0.3", m(aupro)),
        ]
        if pixelAUROCInput != nil || auproInput != nil {
            r += [("pixel AUROC (input res.)", m(pixelAUROCInput)), ("AUPRO@0.3 (input res.)", m(auproInput))]
        }
        r += [("F1-max", m(f1Max)), ("average precision", m(averagePrecision))]
        // %.9g: enough digits for a Float to round-trip, so the printed value reproduces the decisions.
        if let t = f1Threshold { r.append(("F1 threshold", String(format: "%.9g", Double(t)))) }
        if let t = threshold { r.append(("model threshold", String(format: "%.9g", Double(t)))) }
        if let f = falseRejectRate { r.append(("false-reject rate", String(format: "%.4f", f))) }
        if let e = escapeRate { r.append(("escape rate", String(format: "%.4f", e))) }
        r.append(("test images", "\(nTestImages)"))
        r.append(("fit time", fitSeconds > 0 ? String(format: "%.2f s", fitSeconds) : "not fitted in this run"))
        r.append(("inference / image", String(format: "%.1f ms", inferenceSecondsPerImage * 1000)))
        if let p = preprocessSecondsPerImage { r.append(("resize+crop / image", String(format: "%.1f ms", p * 1000))) }
        for (k, v) in (imageAUROCPerDefectType ?? [:]).sorted(by: { $0.key < $1.key }) {
            r.append(("image AUROC [\(k)]", m(v)))
        }
        for (k, v) in (pixelAUROCPerDefectType ?? [:]).sorted(by: { $0.key < $1.key }) {
            r.append(("pixel AUROC [\(k)]", m(v)))
        }
        return r
    }

    private var title: String {
        [dataset, model].compactMap { $0 }.joined(separator: " / ")
    }

    /// A plain aligned two-column table for terminals.
    public func textTable() -> String {
        let rs = rows
        let w0 = max(6, rs.map(\.0.count).max() ?? 0), w1 = max(5, rs.map(\.1.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        func lpad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        let rule = String(repeating: "-", count: w0 + w1 + 3)
        var out: [String] = []
        if !title.isEmpty { out.append(title) }
        out.append(pad("metric", w0) + "   " + lpad("value", w1))
        out.append(rule)
        for (k, v) in rs { out.append(pad(k, w0) + "   " + lpad(v, w1)) }
        return out.joined(separator: "\n") + "\n"
    }

    /// A GitHub-flavoured Markdown table.
    public func markdownTable() -> String {
        var out: [String] = []
        if !title.isEmpty { out.append("**\(title)**\n") }
        out.append("| metric | value |")
        out.append("|---|---:|")
        for (k, v) in rows { out.append("| \(k) | \(v) |") }
        return out.joined(separator: "\n") + "\n"
    }
}
