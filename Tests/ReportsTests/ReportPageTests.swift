import Evaluation
import Foundation
import Testing
@testable import Reports

@Suite("HTML reports")
struct ReportPageTests {
    static let hostile = "<script>alert(1)</script>&\"'.png"

    static func images() -> [ReportImage] {
        [
            ReportImage(name: "good_a.png", score: 0.10, isDefect: false, defectType: "good", overlay: nil),
            ReportImage(name: hostile, score: 0.70, isDefect: false, defectType: "good", overlay: nil),
            ReportImage(name: "good_c.png", score: 0.20, isDefect: false, defectType: "good", overlay: nil),
            ReportImage(name: "crack_1.png", score: 0.90, isDefect: true, defectType: "crack", overlay: nil),
            ReportImage(name: "crack_2.png", score: 0.30, isDefect: true, defectType: "crack", overlay: nil),
            ReportImage(name: "hole_1.png", score: 0.80, isDefect: true, defectType: "hole", overlay: nil),
        ]
    }

    static func report() -> EvaluationReport {
        var report = EvaluationReport(imageAUROC: 0.7778, pixelAUROC: nil, aupro: nil, f1Max: 0.8, averagePrecision: 0.8,
                                      nTestImages: 6, fitSeconds: 1, inferenceSecondsPerImage: 0.01,
                                      imageAUROCPerDefectType: ["crack": 0.6667, "hole": 1])
        report.pixelAUROCPerDefectType = ["crack": 0.8125]     // hole: no mask
        return report
    }

    /// The chart specs the page carries, decoded.
    static func specs(_ html: String) throws -> [String: Any] {
        let open = "<script type=\"application/json\" id=\"chart-specs\">"
        let start = try #require(html.range(of: open)).upperBound
        let end = try #require(html.range(of: "</script>", range: start..<html.endIndex)).lowerBound
        return try #require(try JSONSerialization.jsonObject(with: Data(html[start..<end].utf8)) as? [String: Any])
    }

    @Test func evaluationPageCarriesCurvesTablesAndTheWorstCases() throws {
        let assets = try #require(ChartAssets.load(), "the Reports resource bundle is beside the test runner")
        let html = try EvaluationPage.make(title: "demo: PatchCore evaluation", report: Self.report(), images: Self.images(),
                                           threshold: 0.5, note: "F1 on the test split", galleryCount: 2).html(assets: assets)
        // The chart code is inline: the page needs no other file.
        #expect(html.contains("export function drawCharts"))
        #expect(!html.contains("src=\"/") && !html.contains("href=\""))
        let specs = try Self.specs(html)
        #expect(Set(specs.keys) == ["roc", "pr", "histogram"])
        let roc = try #require(specs["roc"] as? [String: Any])
        let curve = try #require((roc["curves"] as? [[String: Any]])?.first)
        let want = try Metrics.rocCurve(scores: Self.images().map(\.score), labels: Self.images().map(\.isDefect))
        #expect(curve["x"] as? [Double] == want.fpr && curve["y"] as? [Double] == want.tpr)
        let histogram = try #require(specs["histogram"] as? [String: Any])
        #expect(histogram["threshold"] as? Double == 0.5)
        #expect((histogram["series"] as? [[String: Any]])?.map { ($0["values"] as? [Double])?.count } == [3, 3])
        // Per type: good flagged 1 of 3 (the false reject), crack caught 1 of 2, hole 1 of 1.
        #expect(html.contains("<th scope=\"row\">good</th><td class=\"num\">3</td><td class=\"num\">1 (33.3 %) false rejects</td>"))
        #expect(html.contains("<th scope=\"row\">crack</th><td class=\"num\">2</td><td class=\"num\">1 (50.0 %) caught</td><td class=\"num\">0.6667</td><td class=\"num\">0.8125</td>"))
        #expect(html.contains("<td class=\"num\">1.0000</td><td>-</td>"))   // hole: no pixel AUROC
        // Worst good first (the hostile name, score 0.7, a false reject), worst defect first (crack_2, an escape).
        let worstGood = try #require(html.range(of: "id=\"worst-good\""))
        let goodGallery = html[worstGood.upperBound...].prefix(2000)
        #expect(goodGallery.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;.png"))
        #expect(goodGallery.contains("score 0.7: false reject"))
        let worstDefects = try #require(html.range(of: "id=\"worst-defects\""))
        #expect(html[worstDefects.upperBound...].prefix(400).contains("crack_2.png"))
        #expect(html[worstDefects.upperBound...].contains("no overlay written"))
        // The hostile name never appears as markup.
        #expect(!html.contains("<script>alert"))
    }

    @Test func scriptJSONCannotCloseItsElement() throws {
        var page = ReportPage(title: "t")
        page.chart(id: "c", label: "</script><b>x", spec: .bars(categories: ["</script><img src=x onerror=alert(1)>"],
                                                                [.values("s", [0.5])], lo: 0, hi: 1, yLabel: "y"))
        let html = try page.html(assets: ChartAssets(script: "export function drawCharts() {}", styles: ""))
        #expect(!html.contains("</script><img"))
        #expect(html.contains("\\u003c\\/script>\\u003cimg"))
        #expect(html.contains("aria-label=\"&lt;/script&gt;&lt;b&gt;x\""))
        let specs = try Self.specs(html)
        let chart = try #require(specs["c"] as? [String: Any])
        #expect(chart["categories"] as? [String] == ["</script><img src=x onerror=alert(1)>"])
    }

    @Test func withoutTheChartModuleThePageSaysWhy() throws {
        var page = ReportPage(title: "t")
        page.table(id: "m", headers: ["metric", "value"], rows: [["image AUROC", "0.9000"]])
        page.chart(id: "roc", label: "ROC", spec: .curves([.points("ROC", x: [0, 1], y: [0, 1])], xLabel: "x", yLabel: "y"))
        let html = try page.html(assets: nil)
        #expect(html.contains("id=\"charts-missing\""))
        #expect(!html.contains("<script type=\"module\">"))
        #expect(html.contains("<td class=\"num\">0.9000</td>"))
    }
}
