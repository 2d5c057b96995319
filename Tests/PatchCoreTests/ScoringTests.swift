import Foundation
import Testing
import Scoring
import TensorCore

@Suite struct ScoringTests {
    @Test func reweightedScoresMatchAnomalibPort() throws {
        let fixture = try ScoringFixture.load()
        let cases = try #require(fixture.cases["reweight"])
        #expect(cases.count == 5)
        for c in cases {
            let name = c["name"] as! String
            let b = c["num_neighbours"] as! Int, patches = c["patches_per_image"] as! Int
            let bank = try NaiveNearestNeighbourSearch(bank: try fixture.tensor(name + "_bank"))
            let features = try fixture.tensor(name + "_features")
            let nn = try bank.nearestNeighbours(of: features, k: 1)
            let patch = try patchScores(nn)
            let expectedPatch = try fixture.tensor(name + "_patch_scores").scalars
            let expected = try fixture.tensor(name + "_image_scores").scalars
            let scores = try NeighbourhoodReweighting(numNeighbours: b)
                .imageScores(features: features, nearest: nn, patchesPerImage: patches, bank: bank)
            let viaRule = try ImageScoreRule.reweighted(numNeighbours: b)
                .imageScores(features: features, nearest: nn, patchesPerImage: patches, bank: bank)
            let dp = scoringMaxDifferences(patch, expectedPatch), di = scoringMaxDifferences(scores, expected)
            print("reweighting \(name) bank \(bank.count) b \(b): patch scores max rel \(dp.rel), image scores max abs \(di.abs), max rel \(di.rel)")
            #expect(dp.rel < 1e-4)
            #expect(di.rel < 1e-4)
            #expect(scores.count == expected.count)
            #expect(viaRule == scores)
        }
    }

    @Test func reweightingEdgeCases() throws {
        var rng = ScoringRNG(seed: 4)
        let bankRows = rng.tensor([6, 3]), features = rng.tensor([10, 3])
        let bank = try NaiveNearestNeighbourSearch(bank: bankRows)
        let nn = try bank.nearestNeighbours(of: features, k: 1)
        let maxScore = try maxPatchScore(try patchScores(nn)).score
        // b = 1: plain max.
        #expect(try NeighbourhoodReweighting(numNeighbours: 1).imageScore(features: features, nearest: nn, bank: bank) == maxScore)
        // The weight is in (0, 1): reweighted score below s* and above zero.
        let s = try NeighbourhoodReweighting().imageScore(features: features, nearest: nn, bank: bank)
        #expect(s > 0 && s < maxScore)
        // One-row bank: weight 1 - softmax([d]) = 0.
        let single = try NaiveNearestNeighbourSearch(bank: rng.tensor([1, 3]))
        #expect(try NeighbourhoodReweighting().imageScore(features: features, nearest: try single.nearestNeighbours(of: features, k: 1), bank: single) == 0)
        // Mismatched shapes throw instead of trapping.
        #expect(throws: ScoringError.self) {
            try NeighbourhoodReweighting().imageScores(features: features, nearest: nn, patchesPerImage: 3, bank: bank)
        }
    }

    @Test func patchScoreRulesAndMax() throws {
        let nn = NearestNeighbours(distances: Tensor(shape: [3, 2], scalars: [1, 3, 0.5, 0.7, 2, 2]), indices: [0, 1, 2, 3, 4, 5])
        #expect(try patchScores(nn, rule: .nearest) == [1, 0.5, 2])
        #expect(try patchScores(nn, rule: .meanOfNearest) == [2, 0.6, 2])
        #expect(try maxPatchScore([0.2, 0.9, 0.4, 0.9]) == (0.9, 1))
        #expect(throws: ScoringError.self) { try maxPatchScore([]) }
        let features = Tensor(zeros: [4, 1])
        let bank = try NaiveNearestNeighbourSearch(bank: Tensor(shape: [2, 1], scalars: [1, -3]))
        let knn = try bank.nearestNeighbours(of: features, k: 2)
        #expect(knn.indices == [0, 1, 0, 1, 0, 1, 0, 1])
        #expect(try ImageScoreRule.maxPatch.imageScores(features: features, nearest: knn, patchesPerImage: 2, bank: bank, patchRule: .meanOfNearest) == [2, 2])
        #expect(ImageScoreRule.default == .reweighted(numNeighbours: 9))
        #expect(throws: ScoringError.self) { try NaiveNearestNeighbourSearch(bank: Tensor(zeros: [4])) }
        #expect(throws: ScoringError.self) { try bank.nearestNeighbours(of: features, k: 3) }   // k > bank size
    }

    @Test func anomalyMapMatchesInspectionSegmentor() throws {
        let fixture = try ScoringFixture.load()
        let cases = try #require(fixture.cases["map"])
        #expect(cases.count == 2)
        for c in cases {
            let name = c["name"] as! String, h = c["height"] as! Int, w = c["width"] as! Int
            let scores = try fixture.tensor(name + "_scores"), expected = try fixture.tensor(name + "_out")
            let map = try AnomalyMapGenerator(height: h, width: w)
                .maps(patchScores: scores.scalars, grid: (scores.shape[1], scores.shape[2]))
            #expect(map.shape == expected.shape)
            let d = scoringMaxDifferences(map.scalars, expected.scalars)
            print("anomaly map \(name) \(scores.shape) -> \(expected.shape): max abs \(d.abs), max rel \(d.rel)")
            #expect(d.rel < 1e-4)
        }
        #expect(throws: ScoringError.self) { try AnomalyMapGenerator(height: 8, width: 8).maps(patchScores: [1, 2, 3], grid: (2, 2)) }
    }

    @Test func calibrationStatisticsAndThresholds() throws {
        let train: [Float] = [1, 2, 3, 4]
        let cal = try ScoreCalibration.fit(referenceScores: train, method: .minMax)
        #expect(cal.min == 1 && cal.max == 4 && cal.mean == 2.5)
        #expect(abs(cal.std - 1.1180340) < 1e-6)
        #expect(cal.threshold == 4)
        #expect(cal.normalise(2.5) == 0.5)
        #expect(cal.normalisedThreshold == 1)
        #expect(cal.isAnomalous(4.5) && !cal.isAnomalous(4))
        let z = try ScoreCalibration.fit(referenceScores: train, method: .meanStd, threshold: .quantile(0.75, of: [0, 10, 20, 30, 40]))
        #expect(z.threshold == 30)   // numpy.quantile([0,10,20,30,40], 0.75)
        #expect(abs(z.normalise(2.5)) < 1e-6)
        #expect(try ScoreCalibration.fit(referenceScores: train, threshold: .quantile(0.1, of: [1, 2])).threshold == 1.1)
        #expect(throws: ScoringError.noScores(what: "reference scores")) { try ScoreCalibration.fit(referenceScores: []) }
        #expect(throws: ScoringError.self) { try ScoreCalibration.fit(referenceScores: train, threshold: .quantile(1.5, of: [1])) }
        let centred = try ScoreCalibration.fit(referenceScores: train, method: .thresholdCentred, threshold: .fixed(3))
        #expect(centred.normalisedThreshold == 0.5)
        #expect(centred.normalise(4.5) == 1 && centred.normalise(-10) == 0)   // clamped
        #expect(abs(centred.normalise(3.6) - 0.7) < 1e-6)                    // (3.6 - 3) / 3 + 0.5
        let constant = try ScoreCalibration.fit(referenceScores: [2, 2])
        #expect(constant.normalise(3) == 1)   // zero range: divisor 1
        let data = try JSONEncoder().encode(z)
        #expect(try JSONDecoder().decode(ScoreCalibration.self, from: data) == z)
        #expect(String(decoding: data, as: UTF8.self).contains("mean_std"))
    }
}
