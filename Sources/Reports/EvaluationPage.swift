import Evaluation
import Foundation

/// One scored test image of an evaluation, as the report shows it.
public struct ReportImage: Sendable {
    public var name: String
    public var score: Float
    public var isDefect: Bool
    /// `good` or the defect type (the MVTec AD folder name).
    public var defectType: String
    /// The heatmap overlay PNG, when one was written (read only for the images the page shows).
    public var overlay: URL?

    public init(name: String, score: Float, isDefect: Bool, defectType: String, overlay: URL?) {
        self.name = name; self.score = score; self.isDefect = isDefect; self.defectType = defectType; self.overlay = overlay
    }
}

/// `evaluate`'s report.html: the metrics, ROC and precision-recall curves, score histograms with the threshold,
/// a table per defect type, and the worst false positives and false negatives with their overlays.
public enum EvaluationPage {
    /// - Parameters:
    ///   - threshold: the model's decision threshold (`score >= threshold` is a defect); `note` says where it came from.
    ///   - galleryCount: how many of the worst good and worst defective images to show.
    public static func make(title: String, report: EvaluationReport, images: [ReportImage], threshold: Float,
                            note: String, galleryCount: Int = 8) throws -> ReportPage {
        var page = ReportPage(title: title)
        page.paragraph("Threshold \(String(format: "%.6g", Double(threshold))) (\(note)); a part is anomalous when its score is at or above it.")
        page.heading("Metrics")
        page.table(id: "metrics", headers: ["metric", "value"], rows: report.rows.map { [$0.0, $0.1] })

        let scores = images.map(\.score), labels = images.map(\.isDefect)
        let good = images.filter { !$0.isDefect }.map { Double($0.score) }
        let defects = images.filter(\.isDefect).map { Double($0.score) }
        page.heading("Curves and scores")
        if !good.isEmpty, !defects.isEmpty {
            let roc = try Metrics.rocCurve(scores: scores, labels: labels)
            let pr = try Metrics.precisionRecallCurve(scores: scores, labels: labels)
            let all = good + defects + [Double(threshold)]
            let lo = all.min() ?? 0, hi = all.max() ?? 1, margin = (hi - lo) * 0.05 + 1e-6
            page.charts([
                ("roc", String(format: "ROC curve (image AUROC %.4f)", report.imageAUROC),
                 .curves([.points("ROC", x: roc.fpr, y: roc.tpr, cls: "series-defect")],
                         xLabel: "false-positive rate (good parts flagged)", yLabel: "true-positive rate (defects caught)", diagonal: true)),
                ("pr", String(format: "Precision-recall curve (AP %.4f)", report.averagePrecision),
                 .curves([.points("precision-recall", x: pr.recall, y: pr.precision, cls: "series-good")],
                         xLabel: "recall", yLabel: "precision", step: true)),
            ])
            page.chart(id: "histogram", label: "Image scores of good and defective test images (each as a share of its own count), threshold as the black line",
                       spec: .histogram([.values("good (\(good.count))", good, cls: "series-good"),
                                         .values("defective (\(defects.count))", defects, cls: "series-defect")],
                                        lo: lo - margin, hi: hi + margin, threshold: Double(threshold), xLabel: "image score"))
        } else {
            page.paragraph("No curves: the test set needs both good and defective images.", muted: true)
        }

        page.heading("Per defect type")
        page.table(id: "per-type", headers: ["type", "images", "flagged at the threshold", "image AUROC vs good",
                                             "pixel AUROC with good", "median score"],
                   rows: perTypeRows(images, threshold: threshold, auroc: report.imageAUROCPerDefectType ?? [:],
                                     pixelAUROC: report.pixelAUROCPerDefectType ?? [:]))

        page.heading("Worst false positives: good images with the highest scores")
        page.gallery(id: "worst-good", items: images.filter { !$0.isDefect }.sorted { $0.score > $1.score }
            .prefix(galleryCount).map { item($0, threshold: threshold) })
        page.heading("Worst false negatives: defective images with the lowest scores")
        page.gallery(id: "worst-defects", items: images.filter(\.isDefect).sorted { $0.score < $1.score }
            .prefix(galleryCount).map { item($0, threshold: threshold) })
        return page
    }

    static func perTypeRows(_ images: [ReportImage], threshold: Float, auroc: [String: Double],
                            pixelAUROC: [String: Double] = [:]) -> [[String]] {
        let types = Dictionary(grouping: images, by: \.defectType)
        return types.keys.sorted { ($0 == "good" ? "" : $0) < ($1 == "good" ? "" : $1) }.map { type in
            let group = types[type] ?? []
            let flagged = group.filter { $0.score >= threshold }.count
            let sorted = group.map(\.score).sorted()
            let median = sorted.isEmpty ? "-" : String(format: "%.4g", Double(sorted[sorted.count / 2]))
            let rate = group.isEmpty ? 0 : 100 * Double(flagged) / Double(group.count)
            let what = type == "good" ? "false rejects" : "caught"
            return [type, "\(group.count)", "\(flagged) (\(String(format: "%.1f", rate)) %) \(what)",
                    auroc[type].map { String(format: "%.4f", $0) } ?? "-",
                    pixelAUROC[type].map { String(format: "%.4f", $0) } ?? "-", median]
        }
    }

    static func item(_ image: ReportImage, threshold: Float) -> ReportPage.GalleryItem {
        let flagged = image.score >= threshold
        let verdict = image.isDefect ? (flagged ? "caught" : "escape") : (flagged ? "false reject" : "passed")
        return .init(caption: image.name,
                     detail: "\(image.defectType), score \(String(format: "%.4g", Double(image.score))): \(verdict)",
                     png: image.overlay.flatMap { try? Data(contentsOf: $0) })
    }
}
