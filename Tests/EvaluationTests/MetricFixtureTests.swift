import Foundation
import Testing
import TensorCore
import TestSupport
@testable import Evaluation

/// Cases written by scripts/make_metric_fixtures.py (sklearn + a numpy/scipy PRO reference).
struct MetricFixtures: Decodable {
    struct ScoreCase: Decodable {
        let name: String
        let scores: [Double]
        let labels: [Bool]
        let auroc: Double
        let average_precision: Double
        let f1_max: Double
        let f1_threshold: Double
        let roc_fpr: [Double]
        let roc_tpr: [Double]
        let pr_precision: [Double]
        let pr_recall: [Double]
        var floatScores: [Float] { scores.map { Float($0) } }
    }
    struct AUPROCase: Decodable {
        let name: String
        let height: Int
        let width: Int
        let maps: [[Double]]
        let masks: [[UInt8]?]
        let regions: Int
        let aupro_0_3: Double
        let aupro_1_0: Double
        let pixel_auroc: Double
        func items() throws -> [ScoredMask] {
            try zip(maps, masks).map { try ScoredMask(width: width, height: height, scores: $0.0.map { Float($0) }, mask: $0.1) }
        }
    }
    let cases: [ScoreCase]
    let aupro_cases: [AUPROCase]

    static func load() throws -> MetricFixtures {
        try JSONDecoder().decode(MetricFixtures.self, from: FixtureFolder(bundle: .module).data("metric_cases.json"))
    }
}

@Suite("Metrics vs sklearn fixtures")
struct MetricFixtureTests {
    @Test func imageMetricsMatchSklearn() throws {
        let fx = try MetricFixtures.load()
        #expect(fx.cases.count >= 10)
        var maxDiff = 0.0
        for c in fx.cases {
            let s = c.floatScores
            let auc = try Metrics.auroc(scores: s, labels: c.labels)
            let ap = try Metrics.averagePrecision(scores: s, labels: c.labels)
            let f1 = try Metrics.f1Max(scores: s, labels: c.labels)
            let naive = Metrics.aurocNaive(scores: s, labels: c.labels)
            for (got, want, what) in [(auc, c.auroc, "auroc"), (naive, c.auroc, "auroc naive"), (ap, c.average_precision, "AP"), (f1.f1, c.f1_max, "F1")] {
                #expect(abs(got - want) <= 1e-6, "\(c.name) \(what): \(got) vs sklearn \(want)")
                maxDiff = max(maxDiff, abs(got - want))
            }
            #expect(f1.threshold == Float(c.f1_threshold), "\(c.name) F1 threshold \(f1.threshold) vs \(c.f1_threshold)")
        }
        print("image metrics vs sklearn: max abs diff \(maxDiff) over \(fx.cases.count) cases")
    }

    @Test func rocCurveMatchesSklearnDropIntermediateFalse() throws {
        let fx = try MetricFixtures.load()
        var maxDiff = 0.0
        for c in fx.cases {
            let curve = try Metrics.rocCurve(scores: c.floatScores, labels: c.labels)
            #expect(curve.fpr.count == c.roc_fpr.count, "\(c.name): \(curve.fpr.count) points vs \(c.roc_fpr.count)")
            guard curve.fpr.count == c.roc_fpr.count else { continue }
            for k in curve.fpr.indices {
                maxDiff = max(maxDiff, abs(curve.fpr[k] - c.roc_fpr[k]), abs(curve.tpr[k] - c.roc_tpr[k]))
            }
            #expect(curve.thresholds.first == .infinity)
            #expect(zip(curve.thresholds, curve.thresholds.dropFirst()).allSatisfy { $0 > $1 })
        }
        print("ROC curve vs sklearn: max abs diff \(maxDiff)")
        #expect(maxDiff <= 1e-12)
    }

    @Test func precisionRecallCurveMatchesSklearn() throws {
        let fx = try MetricFixtures.load()
        var maxDiff = 0.0
        for c in fx.cases {
            let curve = try Metrics.precisionRecallCurve(scores: c.floatScores, labels: c.labels)
            #expect(curve.recall.count == c.pr_recall.count, "\(c.name): \(curve.recall.count) points vs \(c.pr_recall.count)")
            guard curve.recall.count == c.pr_recall.count else { continue }
            for k in curve.recall.indices {
                maxDiff = max(maxDiff, abs(curve.recall[k] - c.pr_recall[k]), abs(curve.precision[k] - c.pr_precision[k]))
            }
            #expect(curve.recall.last == 1)
            #expect(zip(curve.thresholds, curve.thresholds.dropFirst()).allSatisfy { $0 > $1 })
        }
        print("PR curve vs sklearn: max abs diff \(maxDiff)")
        #expect(maxDiff <= 1e-12)
    }

    @Test func auproAndPixelAUROCMatchReference() throws {
        let fx = try MetricFixtures.load()
        var maxDiff = 0.0
        for c in fx.aupro_cases {
            let items = try c.items()
            let a3 = try Metrics.aupro(items)
            let a1 = try Metrics.aupro(items, fprLimit: 1.0)
            let naive = Metrics.auproNaive(items)
            let pix = try Metrics.pixelAUROC(items)
            for (got, want, what) in [(a3, c.aupro_0_3, "AUPRO@0.3"), (naive, c.aupro_0_3, "AUPRO naive"), (a1, c.aupro_1_0, "AUPRO@1"), (pix, c.pixel_auroc, "pixel AUROC")] {
                #expect(abs(got - want) <= 1e-6, "\(c.name) \(what): \(got) vs reference \(want)")
                maxDiff = max(maxDiff, abs(got - want))
            }
            let regions = items.compactMap { $0.mask }.map { connectedComponents(mask: $0, width: c.width, height: c.height).count }.reduce(0, +)
            #expect(regions == c.regions, "\(c.name): \(regions) regions vs scipy \(c.regions)")
        }
        print("AUPRO / pixel AUROC vs numpy-scipy reference: max abs diff \(maxDiff)")
    }
}
