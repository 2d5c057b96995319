import Checkpoints
import Foundation
import MemoryBank
import Scoring
import TensorCore
import Testing

/// PatchCoreDual scoring against scripts/make_dual_scoring_fixtures.py (numpy, written from the issue text).
@Suite struct DualScoringTests {
    struct Fixture {
        let tensors: [String: Tensor]
        let cases: [[String: Any]]
        let epsilon: Float

        static func load() throws -> Fixture {
            let url = try #require(Bundle.module.url(forResource: "dual_scoring", withExtension: "safetensors", subdirectory: "Fixtures"))
            let contents = try SafeTensors.read(url)
            let json = try #require(contents.metadata["cases"]?.data(using: .utf8))
            let cases = try #require(try JSONSerialization.jsonObject(with: json) as? [[String: Any]])
            return Fixture(tensors: contents.tensors, cases: cases, epsilon: try #require(Float(contents.metadata["epsilon"] ?? "")))
        }

        func tensor(_ name: String) throws -> Tensor { try #require(tensors[name], "fixture tensor \(name) missing") }
    }

    /// Runs every fixture case through `DualScoring` with the given bank type; returns the max rel differences
    /// (image scores + components, maps).
    func compare<B: NearestNeighbourSearch>(makeBank: (Tensor) throws -> B) throws -> (image: Float, map: Float, count: Int) {
        let fixture = try Fixture.load()
        var worstImage: Float = 0, worstMap: Float = 0, count = 0
        for c in fixture.cases {
            let index = c["case"] as! Int, ruleName = c["rule"] as! String
            let rule = try #require(DualScoreRule(rawValue: ruleName))
            let cal = (c["calibration"] as! [Double]).map(Float.init)
            let features = try fixture.tensor("case\(index)_features")
            let negative = try makeBank(try fixture.tensor("case\(index)_negative"))
            let positive = try makeBank(try fixture.tensor("case\(index)_positive"))
            let dual = DualScoring(rule: rule, numNeighbours: 2, epsilon: fixture.epsilon,
                                   logRatioCalibration: DualLogRatioCalibration(meanLogNegative: cal[0], stdLogNegative: cal[1],
                                                                                meanLogPositive: cal[2], stdLogPositive: cal[3]))
            let nn = try negative.nearestNeighbours(of: features, k: 1), pp = try positive.nearestNeighbours(of: features, k: 1)
            let s = try dual.imageScore(features: features, negative: nn, positive: pp, negativeBank: negative, positiveBank: positive)
            let actual = [s.score, s.negative.distance, s.negative.weight, s.negative.score,
                          s.positive.distance, s.positive.weight, s.positive.score]
            let expected = ["score", "s_n_star", "w_n", "s_n", "s_p_star", "w_p", "s_p"].map { Float(c[$0] as! Double) }
            #expect(s.negative.patch == c["negative_patch"] as! Int, "case \(index) \(ruleName)")
            #expect(s.positive.patch == c["positive_patch"] as! Int, "case \(index) \(ruleName)")
            #expect(s.negative.bankRow == c["negative_row"] as! Int)
            #expect(s.positive.bankRow == c["positive_row"] as! Int)
            let map = try dual.patchScores(negative: nn, positive: pp)
            let di = scoringMaxDifferences(actual, expected)
            let dm = scoringMaxDifferences(map, try fixture.tensor("case\(index)_\(ruleName)_map").scalars)
            worstImage = max(worstImage, di.rel); worstMap = max(worstMap, dm.rel)
            count += 1
        }
        return (worstImage, worstMap, count)
    }

    @Test func matchesTheIssueFormulaWithNaiveSearch() throws {
        let r = try compare { try NaiveNearestNeighbourSearch(bank: $0) }
        print("dual scoring (naive k-NN), \(r.count) cases: image score/components max rel \(r.image), maps max rel \(r.map)")
        #expect(r.count == 30)
        #expect(r.image <= 1e-5)
        #expect(r.map <= 1e-5)
    }

    @Test func matchesTheIssueFormulaWithMemoryBank() throws {
        let r = try compare { try MemoryBank(features: $0) }
        print("dual scoring (MemoryBank k-NN), \(r.count) cases: image score/components max rel \(r.image), maps max rel \(r.map)")
        #expect(r.image <= 1e-5)
        #expect(r.map <= 1e-5)
    }

    @Test func quotientAndWeights() {
        // Equal distances: exp(s)/(exp(s)+exp(s)) = 1/2 whatever d.
        #expect(abs(DualScoring.neighbourhoodQuotient(sStar: 3, supportDistances: [3, 3], dimension: 64) - 0.5) < 1e-12)
        // Large distances do not overflow (max shift).
        let q = DualScoring.neighbourhoodQuotient(sStar: 5000, supportDistances: [5000, 6000], dimension: 1)
        #expect(q.isFinite && q >= 0 && q < 1e-6)
        // s* is the nearest distance, so s* <= d_j and the quotient is at most 1/b: w_N >= 1/2, w_P <= 1/2 for b = 2.
        let r = DualScoring.neighbourhoodQuotient(sStar: 2, supportDistances: [2.5, 4], dimension: 1)
        #expect(abs(r - exp(2.0) / (exp(2.5) + exp(4.0))) < 1e-12)
        #expect(r < 0.5)
    }

    /// A test image with a patch equal to a positive-bank row scores higher with the dual rules that look at
    /// "similar to a defect" than with the negative bank alone.
    @Test func patchEqualToAPositiveRowRaisesTheScore() throws {
        var rng = ScoringRNG(seed: 11)
        let d = 8
        let negative = try NaiveNearestNeighbourSearch(bank: rng.tensor([40, d]))
        let positiveRows = Tensor(shape: [5, d], scalars: rng.tensor([5, d]).scalars.map { $0 * 2 + 3 })
        let positive = try NaiveNearestNeighbourSearch(bank: positiveRows)
        var patches = rng.tensor([16, d]).scalars
        patches.replaceSubrange((3 * d)..<(4 * d), with: positiveRows.scalars[(2 * d)..<(3 * d)])  // patch 3 = defect row 2
        let features = Tensor(shape: [16, d], scalars: patches)
        let nn = try negative.nearestNeighbours(of: features, k: 1), pp = try positive.nearestNeighbours(of: features, k: 1)
        let single = try NeighbourhoodReweighting(numNeighbours: 1).imageScore(features: features, nearest: nn, bank: negative)
        for rule in [DualScoreRule.atNegativeArgmax, .minPositive] {
            let s = try DualScoring(rule: rule).imageScore(features: features, negative: nn, positive: pp,
                                                           negativeBank: negative, positiveBank: positive)
            #expect(s.negative.patch == 3, "the defect-like patch is the farthest from the normal bank")
            #expect(s.positive.distance == 0)
            #expect(s.score > single, "\(rule): dual \(s.score) vs single-bank \(single)")
            #expect(s.score > 1e5, "ratio with s_P = 0 is s_N / eps")
        }
        // The literal thesis reduction takes the patch least like any defect instead.
        let thesis = try DualScoring(rule: .thesis).imageScore(features: features, negative: nn, positive: pp,
                                                               negativeBank: negative, positiveBank: positive)
        #expect(thesis.positive.patch != 3)
        // Map: the defect patch is the map's maximum.
        let map = try DualScoring(rule: .thesis).patchScores(negative: nn, positive: pp)
        #expect(try maxPatchScore(map).patch == 3)
    }

    @Test func epsilonAndEdgeCases() throws {
        var rng = ScoringRNG(seed: 5)
        let features = rng.tensor([6, 4])
        let negative = try NaiveNearestNeighbourSearch(bank: rng.tensor([7, 4]))
        let positive = try NaiveNearestNeighbourSearch(bank: features)  // every test patch is a defect row: p_i = 0
        let nn = try negative.nearestNeighbours(of: features, k: 1), pp = try positive.nearestNeighbours(of: features, k: 1)
        for eps: Float in [1e-6, 1e-2, 1] {
            let dual = DualScoring(rule: .thesis, epsilon: eps)
            let s = try dual.imageScore(features: features, negative: nn, positive: pp, negativeBank: negative, positiveBank: positive)
            #expect(s.positive.score == 0)
            #expect(s.score == s.negative.score / eps)
            #expect(try dual.patchScores(negative: nn, positive: pp).allSatisfy { $0.isFinite })
        }
        // eps = 0 with s_P = 0 is infinite, not a crash; a negative eps is refused.
        let zero = try DualScoring(rule: .thesis, epsilon: 0).imageScore(features: features, negative: nn, positive: pp,
                                                                        negativeBank: negative, positiveBank: positive)
        #expect(zero.score == .infinity)
        #expect(throws: ScoringError.self) {
            try DualScoring(epsilon: -1).imageScore(features: features, negative: nn, positive: pp, negativeBank: negative, positiveBank: positive)
        }
        // Empty positive bank: an error naming the positive bank.
        let empty = try NaiveNearestNeighbourSearch(bank: Tensor(zeros: [0, 4]))
        #expect(throws: ScoringError.self) {
            try DualScoring().imageScore(features: features, negative: nn, positive: pp, negativeBank: negative, positiveBank: empty)
        }
        // A one-row positive bank has no neighbourhood: w_P = 1.
        let one = try NaiveNearestNeighbourSearch(bank: rng.tensor([1, 4]))
        let s1 = try DualScoring(rule: .thesis).imageScore(features: features, negative: nn, positive: try one.nearestNeighbours(of: features, k: 1),
                                                            negativeBank: negative, positiveBank: one)
        #expect(s1.positive.weight == 1)
        // Mismatched k-NN rows throw.
        #expect(throws: ScoringError.self) {
            try DualScoring().imageScore(features: rng.tensor([5, 4]), negative: nn, positive: pp, negativeBank: negative, positiveBank: positive)
        }
    }

    @Test func logRatioCalibrationAndCoding() throws {
        let cal = try DualLogRatioCalibration.fit(negativeScores: [1, 2, 4], positiveScores: [3, 3, 3], epsilon: 0)
        #expect(abs(cal.meanLogNegative - Float(log(2.0))) < 1e-6)
        #expect(cal.stdLogPositive == 1, "zero spread falls back to 1")
        // Calibrated: a 1-std rise on either side moves the score by 1.
        let dual = DualScoring(rule: .logRatio, epsilon: 0, logRatioCalibration: cal)
        let base = dual.combine(negative: 2, positive: 3)
        let up = dual.combine(negative: 2 * Float(exp(Double(cal.stdLogNegative))), positive: 3)
        #expect(abs(up - base - 1) < 1e-5)
        #expect(throws: ScoringError.self) { try DualLogRatioCalibration.fit(negativeScores: [], positiveScores: []) }
        // Codable with snake_case names, as stored in model files.
        let data = try JSONEncoder().encode(dual)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"log_ratio\"") && text.contains("mean_log_negative") && text.contains("num_neighbours"))
        #expect(try JSONDecoder().decode(DualScoring.self, from: data) == dual)
        #expect(DualScoreRule.allCases.map(\.rawValue) == ["thesis", "at_negative_argmax", "min_positive", "difference", "log_ratio", "patch_log_ratio"])
    }
}
