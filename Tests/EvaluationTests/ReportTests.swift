import Foundation
import Testing
@testable import Evaluation

@Suite("EvaluationReport")
struct ReportTests {
    let report = EvaluationReport(imageAUROC: 0.9875, pixelAUROC: 0.97512, aupro: nil, f1Max: 0.95, averagePrecision: 0.99,
                                  nTestImages: 83, fitSeconds: 12.25, inferenceSecondsPerImage: 0.0213,
                                  f1Threshold: 1.5, imageAUROCPerDefectType: ["scratch": 1.0, "crack": 0.9],
                                  dataset: "bottle", model: "mobilenet_v2")

    @Test func jsonKeysAreExact() throws {
        let obj = try #require(JSONSerialization.jsonObject(with: report.jsonData()) as? [String: Any])
        for key in ["image_auroc", "pixel_auroc", "aupro", "f1_max", "average_precision", "n_test_images",
                    "fit_seconds", "inference_seconds_per_image"] {
            #expect(obj[key] != nil, "missing key \(key)")
        }
        #expect(obj["aupro"] is NSNull)
        #expect((obj["n_test_images"] as? Int) == 83)
        #expect((obj["image_auroc_per_defect_type"] as? [String: Double])?["crack"] == 0.9)
        let back = try JSONDecoder().decode(EvaluationReport.self, from: report.jsonData())
        #expect(back == report)
    }

    @Test func tablesShowEveryMetric() {
        let text = report.textTable()
        let md = report.markdownTable()
        for needle in ["0.9875", "0.9751", "n/a", "83", "21.3 ms", "image AUROC [crack]", "bottle / mobilenet_v2"] {
            #expect(text.contains(needle), "text table lacks \(needle):\n\(text)")
            #expect(md.contains(needle), "markdown table lacks \(needle):\n\(md)")
        }
        #expect(md.contains("|---|---:|"))
        // text rows are aligned: the value column ends at the same width on every metric row
        let lines = text.split(separator: "\n").dropFirst(3)
        #expect(Set(lines.map(\.count)).count == 1)
    }
}

@Suite("Metrics.evaluate")
struct EvaluateTests {
    @Test func combinesAllMetrics() throws {
        let s: [Float] = [0.1, 0.2, 0.9, 0.3, 0.8, 0.15]
        let y = [false, false, true, true, true, false]
        let types = ["good", "good", "scratch", "spot", "scratch", "good"]
        let m1 = try ScoredMask(width: 2, height: 2, scores: [0.1, 0.9, 0.2, 0.3], mask: [0, 255, 0, 0])
        let m2 = try ScoredMask(width: 2, height: 2, scores: [0.1, 0.2, 0.4, 0.3], mask: nil)
        let r = try Metrics.evaluate(imageScores: s, imageLabels: y, defectTypes: types, pixels: [m1, m2],
                                     fitSeconds: 1.5, inferenceSecondsPerImage: 0.01)
        #expect(r.imageAUROC == 1)
        #expect(r.imageAUROCPerDefectType == ["scratch": 1, "spot": 1])
        #expect(r.f1Max == 1 && r.f1Threshold == 0.3)
        #expect(r.pixelAUROC == 1)
        #expect(r.aupro == 1)
        #expect(r.nTestImages == 6)
        #expect(r.pixelAUROCPerDefectType == nil)          // pixels for only some of the images: not per type
        let noMasks = try Metrics.evaluate(imageScores: s, imageLabels: y, pixels: [m2], fitSeconds: 0, inferenceSecondsPerImage: 0)
        #expect(noMasks.pixelAUROC == nil && noMasks.aupro == nil && noMasks.imageAUROCPerDefectType == nil)
        #expect(throws: MetricError.self) {
            try Metrics.evaluate(imageScores: s, imageLabels: y, defectTypes: ["good"], fitSeconds: 0, inferenceSecondsPerImage: 0)
        }
    }

    /// Per-type pixel AUROC: the pixels of one type's images and of the good images. Worked by hand: type a's two
    /// defect pixels beat every other pixel (1); type b's one (0.25) beats 5 of the 7 others (good and its own
    /// image's); every image pooled, 36 of 39 pairs. A type whose masks are empty has none.
    @Test func pixelAUROCPerDefectTypeUsesThatTypesImagesAndTheGoodOnes() throws {
        let good = try ScoredMask(width: 2, height: 2, scores: [0.1, 0.5, 0.2, 0.3], mask: nil)
        let a = try ScoredMask(width: 2, height: 2, scores: [0.9, 0.8, 0.1, 0.2], mask: [255, 255, 0, 0])
        let b = try ScoredMask(width: 2, height: 2, scores: [0.25, 0.1, 0.1, 0.1], mask: [255, 0, 0, 0])
        let c = try ScoredMask(width: 2, height: 2, scores: [0.7, 0.1, 0.1, 0.1], mask: [0, 0, 0, 0])
        let r = try Metrics.evaluate(imageScores: [0.1, 0.9, 0.5, 0.6], imageLabels: [false, true, true, true],
                                     defectTypes: ["good", "a", "b", "c"], pixels: [good, a, b, c],
                                     fitSeconds: 0, inferenceSecondsPerImage: 0)
        let perType = try #require(r.pixelAUROCPerDefectType)
        #expect(perType.keys.sorted() == ["a", "b"])
        #expect(perType["a"] == 1)
        #expect(abs(perType["b"]! - 5.0 / 7.0) < 1e-12)
        #expect(abs(r.pixelAUROC! - 36.0 / 39.0) < 1e-12)   // every image pooled
        let text = r.textTable()
        #expect(text.contains("pixel AUROC [b]") && text.contains("0.7143"), "\(text)")
        let obj = try #require(JSONSerialization.jsonObject(with: r.jsonData()) as? [String: Any])
        #expect((obj["pixel_auroc_per_defect_type"] as? [String: Double])?["a"] == 1)
    }
}
