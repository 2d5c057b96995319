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
