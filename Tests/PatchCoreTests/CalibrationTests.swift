import Foundation
@testable import PatchCore
import Testing

@Suite struct CalibrationTests {
    @Test func conformalQuantileWhenEnoughImages() throws {
        // 199 held-out scores 1...199, 1% target: rank ceil(200 * 0.99) = 198, so 2 of 199 good scores reach it.
        let scores = (1...199).map(Float.init)
        let (t, estimator) = try ModelCalibration.falseRejectQuantile(scores, rate: 0.01)
        #expect(t == Float(198).nextUp)
        #expect(estimator.contains("conformal"))
        #expect(scores.filter { $0 >= t }.count == 1)
    }

    @Test func smallSamplesUseTheLargerOfMaximumAndNormalTail() throws {
        let scores: [Float] = [1, 2, 3, 4, 5]
        let (t, estimator) = try ModelCalibration.falseRejectQuantile(scores, rate: 0.01)
        // mean 3, sample std sqrt(2.5), t(0.99; 4) = 3.7469 (scipy.stats.t.ppf), prediction factor sqrt(1 + 1/5)
        #expect(abs(Double(t) - (3 + 3.746947 * 2.5.squareRoot() * 1.2.squareRoot())) < 1e-2)
        #expect(estimator.contains("too few"))
        // A tight distribution: the normal tail falls below the maximum, which then wins (made strictly larger).
        let (t2, _) = try ModelCalibration.falseRejectQuantile([1, 1, 1, 1, 1, 1, 1, 1, 1, 9], rate: 0.05)
        #expect(t2 == Float(9).nextUp)
        #expect(try ModelCalibration.falseRejectQuantile(scores, rate: 0).0 == Float(5).nextUp)
        #expect(throws: PatchCoreError.self) { try ModelCalibration.falseRejectQuantile(scores, rate: -0.1) }
        #expect(throws: PatchCoreError.self) { try ModelCalibration.falseRejectQuantile(scores, rate: .nan) }
    }

    @Test func studentTQuantileMatchesScipy() {
        // scipy.stats.t.ppf(p, df)
        for (p, df, t) in [(0.99, 4.0, 3.746947), (0.99, 20.0, 2.527977), (0.99, 69.0, 2.381615), (0.95, 10.0, 1.812461), (0.999, 30.0, 3.385185)] {
            #expect(abs(studentTQuantile(p, degrees: df) - t) < 2e-3 * t, "p \(p) df \(df): \(studentTQuantile(p, degrees: df))")
        }
    }

    @Test func normalQuantileMatchesKnownValues() {
        for (p, z) in [(0.5, 0.0), (0.975, 1.959963985), (0.99, 2.326347874), (0.001, -3.090232306), (0.9999, 3.719016485)] {
            #expect(abs(normalQuantile(p) - z) < 1e-7, "p \(p)")
        }
    }

    @Test func normalisedScoreIsZeroAtMedianAndOneAtThreshold() throws {
        let cal = try ModelCalibration.fit(goodScores: [1, 2, 3, 4, 5], mapMaxima: [2, 3, 4, 5, 6], mapMedian: 1,
                                           policy: .manual(7), source: "test")
        #expect(cal.medianGoodScore == 3)
        #expect(cal.normalise(3) == 0)
        #expect(cal.normalise(7) == 1)
        #expect(cal.isAnomalous(7) && !cal.isAnomalous(Float(7).nextDown))
        #expect(cal.provenance.rule == .manual)
        // The map's decision level sits where the threshold sits among the scores: z = (7 - 3) / std = same z on maps.
        #expect(abs(cal.mapThreshold - 8) < 1e-5)
        let moved = try cal.withThreshold(3, provenance: ThresholdProvenance(rule: .f1, images: 10, source: "set", estimator: "f1"))
        #expect(abs(moved.mapThreshold - 4) < 1e-5)
        #expect(moved.provenance.rule == .f1)
        #expect(throws: PatchCoreError.self) { try cal.withThreshold(.infinity, provenance: cal.provenance) }
    }

    @Test func badCalibrationInputIsRefused() {
        #expect(throws: PatchCoreError.self) {
            try ModelCalibration.fit(goodScores: [], mapMaxima: [], mapMedian: 0, policy: .falseRejectRate(0.01), source: "x")
        }
        #expect(throws: PatchCoreError.self) {
            try ModelCalibration.fit(goodScores: [1, .nan], mapMaxima: [1, 2], mapMedian: 0, policy: .falseRejectRate(0.01), source: "x")
        }
        #expect(throws: PatchCoreError.self) {
            try ModelCalibration.fit(goodScores: [1, 2], mapMaxima: [1, 2], mapMedian: 0, policy: .manual(.nan), source: "x")
        }
    }

    @Test func holdOutSplitIsSeededDisjointAndBounded() throws {
        let good = (0..<40).map { ImageSource.file(URL(fileURLWithPath: "/g/\($0).png")) }
        var notes: [String] = []
        let (bank, held) = PatchCoreTrainer.split(good, plan: .holdOut(fraction: 0.1, minimum: 5), seed: 3, notes: &notes)
        let heldNames = Set((held ?? []).map(\.name)), bankNames = bank.map(\.name)
        #expect(heldNames.count == 5)
        #expect(bankNames.count == 35 && heldNames.isDisjoint(with: bankNames))
        #expect(bankNames == bankNames.sorted { Int($0.dropFirst(3).dropLast(4))! < Int($1.dropFirst(3).dropLast(4))! })
        let again = PatchCoreTrainer.split(good, plan: .holdOut(fraction: 0.1, minimum: 5), seed: 3, notes: &notes).1!.map(\.name)
        #expect(Set(again) == heldNames)
        let other = PatchCoreTrainer.split(good, plan: .holdOut(fraction: 0.1, minimum: 5), seed: 4, notes: &notes).1!.map(\.name)
        #expect(Set(other) != heldNames)
        #expect(notes.isEmpty)
        // Too few images to keep one for the bank: the training images set the threshold, with a note.
        let tiny = PatchCoreTrainer.split(Array(good.prefix(5)), plan: .holdOut(fraction: 0.1, minimum: 5), seed: 0, notes: &notes)
        #expect(tiny.1 == nil && tiny.0.count == 5 && notes.count == 1)
    }
}
