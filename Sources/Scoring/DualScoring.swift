import Foundation
import TensorCore

/// PatchCoreDual image scores and patch maps from a negative (normal) and a positive (defect) memory bank
/// (Leonardi 2025, "Dual Memory Bank PatchCore").
///
/// Notation (thesis -> code), d = feature dimension, n_i / p_i = distance of test patch i to its nearest
/// negative / positive bank row:
/// - s_N* = max_i n_i, m^test,* = that patch (`negative.patch`), m* = its nearest negative row (`negative.bankRow`);
///   with `patch_log_ratio`, m^test,* is the patch of the largest z_N(log n_i) - z_P(log p_i) instead, s_N* = n there;
/// - N_b(m*) = the b nearest negative rows of m* other than m* itself (the thesis code queries the 3 nearest and
///   drops m*, so b = `numNeighbours` = 2);
/// - w_N = 1 - exp(s_N*/sqrt(d)) / sum_{m in N_b(m*)} exp(||m^test,* - m||/sqrt(d)),  s_N = w_N * s_N*;
/// - s_P* = p at the positive patch m^test,+ chosen by `rule.positivePatch` (thesis: argmax_i p_i), m+ its nearest
///   positive row, w_P = exp(s_P*/sqrt(d)) / sum_{m in N_b(m+)} exp(||m^test,+ - m||/sqrt(d)),  s_P = w_P * s_P*;
/// - image score (`rule.combination`): ratio s_N / (s_P + eps), difference s_N - s_P, or the calibrated log-ratio
///   z_N(log(s_N + eps)) - z_P(log(s_P + eps)) with z from `logRatioCalibration` (identity when nil);
/// - patch map value of patch i, for every rule: the thesis ratio n_i / (p_i + eps), upsampled and blurred by
///   `AnomalyMapGenerator` like PatchCore's (the image-level calibration of `log_ratio` does not apply to single
///   patches, and on the Magnetic Tile split the ratio map localises better than a difference or z-scored map).
///
/// Defined edge cases: a bank of one row has an empty N_b, and the weight is then 1 (no reweighting); if m* has
/// exact duplicates in the bank and m* itself is not among its b + 1 nearest, the first (distance-0) neighbour is
/// dropped instead. The softmax-like quotient is evaluated with a max shift, in Double. An empty positive bank
/// is an error.
///
/// ```swift
/// let dual = DualScoring(rule: .thesis)
/// let nn = try negativeBank.nearestNeighbours(of: features /*(P, D)*/, k: 1)
/// let pp = try positiveBank.nearestNeighbours(of: features, k: 1)
/// let s = try dual.imageScore(features: features, negative: nn, positive: pp,
///                             negativeBank: negativeBank, positiveBank: positiveBank)
/// let mapValues = try dual.patchScores(negative: nn, positive: pp)   // (P) values for AnomalyMapGenerator
/// ```
public struct DualScoring: Sendable, Codable, Equatable {
    public var rule: DualScoreRule
    /// b: bank neighbours of m* (resp. m+) other than itself in the weights (2, as the thesis code).
    public var numNeighbours: Int
    /// eps of s_N / (s_P + eps), of the patch ratio and inside the log-ratio's logarithms.
    public var epsilon: Float
    /// Statistics for `log_ratio`; nil leaves it uncalibrated (plain log(s_N + eps) - log(s_P + eps)).
    public var logRatioCalibration: DualLogRatioCalibration?

    public init(rule: DualScoreRule = .default, numNeighbours: Int = 2, epsilon: Float = 1e-6,
                logRatioCalibration: DualLogRatioCalibration? = nil) {
        self.rule = rule; self.numNeighbours = numNeighbours; self.epsilon = epsilon
        self.logRatioCalibration = logRatioCalibration
    }

    enum CodingKeys: String, CodingKey {
        case rule, epsilon
        case numNeighbours = "num_neighbours"
        case logRatioCalibration = "log_ratio_calibration"
    }

    /// One bank's side of a dual score.
    public struct Side: Sendable, Equatable {
        /// s* (s_N* or s_P*): the chosen test patch's distance to its nearest row of this bank.
        public var distance: Float
        /// w_N or w_P.
        public var weight: Float
        /// s_N = w_N * s_N* or s_P = w_P * s_P*.
        public var score: Float
        /// Index of the chosen test patch (m^test,* or m^test,+), rows (y, x).
        public var patch: Int
        /// Index of its nearest bank row (m* or m+).
        public var bankRow: Int
    }

    /// The image score and both sides it was made from.
    public struct ImageScore: Sendable, Equatable {
        public var score: Float
        public var negative: Side
        public var positive: Side
    }

    /// Dual score of one image.
    /// - Parameters:
    ///   - features: (P, D) patch features of the test image.
    ///   - negative / positive: their k-NN results (k >= 1; column 0 is used) against the two banks.
    public func imageScore(features: Tensor, negative: NearestNeighbours, positive: NearestNeighbours,
                           negativeBank: some NearestNeighbourSearch,
                           positiveBank: some NearestNeighbourSearch) throws -> ImageScore {
        try validate(features: features, negative: negative, positive: positive,
                     negativeBank: negativeBank, positiveBank: positiveBank)
        let n = try Scoring.patchScores(negative, rule: .nearest), p = try Scoring.patchScores(positive, rule: .nearest)
        // 1. Negative side: m^test,* (argmax_i n_i, or the patch of the largest calibrated log-ratio), m* its
        //    nearest negative row.
        let iN: Int
        switch rule.negativePatch {
        case .farthest: iN = try maxPatchScore(n).patch
        case .largestLogRatio: iN = try maxPatchScore(zip(n, p).map { combine(negative: $0, positive: $1) }).patch
        }
        let sN = n[iN]
        let negativeRow = negative.indices[iN * negative.k]
        let ratioN = try Self.neighbourhoodQuotient(features: features, patch: iN, bankRow: negativeRow, sStar: sN,
                                                    bank: negativeBank, numNeighbours: numNeighbours)
        let wN = ratioN.map { 1 - $0 } ?? 1
        // 2. Positive side: m^test,+ by the rule, m+ its nearest positive row.
        let iP: Int
        switch rule.positivePatch {
        case .farthest: iP = try maxPatchScore(p).patch
        case .atNegativeArgmax: iP = iN
        case .nearest: iP = try maxPatchScore(p.map { -$0 }).patch
        }
        let sP = p[iP]
        let positiveRow = positive.indices[iP * positive.k]
        let ratioP = try Self.neighbourhoodQuotient(features: features, patch: iP, bankRow: positiveRow, sStar: sP,
                                                    bank: positiveBank, numNeighbours: numNeighbours)
        let wP = ratioP ?? 1
        let negativeSide = Side(distance: sN, weight: Float(wN), score: Float(wN) * sN, patch: iN, bankRow: negativeRow)
        let positiveSide = Side(distance: sP, weight: Float(wP), score: Float(wP) * sP, patch: iP, bankRow: positiveRow)
        return ImageScore(score: combine(negative: negativeSide.score, positive: positiveSide.score),
                          negative: negativeSide, positive: positiveSide)
    }

    /// Map values of one image's patches: n_i / (p_i + eps), whatever the image rule.
    public func patchScores(negative: NearestNeighbours, positive: NearestNeighbours) throws -> [Float] {
        let n = try Scoring.patchScores(negative, rule: .nearest), p = try Scoring.patchScores(positive, rule: .nearest)
        guard n.count == p.count else {
            throw ScoringError.shapeMismatch(what: "positive k-NN result", expected: "\(n.count) rows like the negative one",
                                             actual: positive.distances.shape)
        }
        return zip(n, p).map { $0 / ($1 + epsilon) }
    }

    /// The rule's combination of the image's negative and positive scores s_N, s_P.
    public func combine(negative sN: Float, positive sP: Float) -> Float {
        switch rule.combination {
        case .ratio:
            return sN / (sP + epsilon)
        case .difference:
            return sN - sP
        case .calibratedLogRatio:
            let c = logRatioCalibration ?? .identity
            return c.zNegative(log(Swift.max(sN, 0) + epsilon)) - c.zPositive(log(Swift.max(sP, 0) + epsilon))
        }
    }

    /// exp(s*/sqrt(d)) / sum_{m in N_b(bankRow)} exp(||f_patch - m||/sqrt(d)), or nil when N_b is empty (a bank of
    /// one row). N_b = the `numNeighbours` nearest bank rows of `bankRow` other than itself.
    static func neighbourhoodQuotient(features: Tensor, patch: Int, bankRow: Int, sStar: Float,
                                      bank: some NearestNeighbourSearch, numNeighbours: Int) throws -> Double? {
        let k = Swift.min(numNeighbours + 1, bank.count)
        guard k >= 2 else { return nil }
        let found = try bank.nearestNeighbours(of: bank.bankRows([bankRow]), k: k).indices
        var support = found
        if let own = support.firstIndex(of: bankRow) { support.remove(at: own) } else { support.removeFirst() }
        support = Array(support.prefix(numNeighbours))
        let distances = supportDistances(row: patch, of: features, to: bank.bankRows(support))
        return neighbourhoodQuotient(sStar: Double(sStar), supportDistances: distances, dimension: bank.dimension)
    }

    /// exp(s*/sqrt(d)) / sum_j exp(d_j/sqrt(d)), max-shifted. w_N = 1 - this, w_P = this.
    ///
    /// ```swift
    /// DualScoring.neighbourhoodQuotient(sStar: 1, supportDistances: [1, 1], dimension: 1)   // 0.5
    /// ```
    public static func neighbourhoodQuotient(sStar: Double, supportDistances: [Double], dimension: Int) -> Double {
        supportQuotient(sStar, distances: supportDistances, temperature: Double(dimension).squareRoot())
    }

    func validate(features: Tensor, negative: NearestNeighbours, positive: NearestNeighbours,
                  negativeBank: some NearestNeighbourSearch, positiveBank: some NearestNeighbourSearch) throws {
        guard numNeighbours >= 1 else {
            throw ScoringError.invalidParameter(name: "numNeighbours", value: "\(numNeighbours)", expected: ">= 1")
        }
        guard epsilon >= 0, epsilon.isFinite else {
            throw ScoringError.invalidParameter(name: "epsilon", value: "\(epsilon)", expected: "a finite value >= 0")
        }
        guard negativeBank.count > 0 else { throw ScoringError.emptyBank }
        guard positiveBank.count > 0 else {
            throw ScoringError.invalidParameter(name: "positive memory bank", value: "0 rows",
                                                expected: "at least one defect patch feature (fit with defect images and masks)")
        }
        guard negativeBank.dimension == positiveBank.dimension else {
            throw ScoringError.shapeMismatch(what: "positive memory bank", expected: "(Mp, \(negativeBank.dimension)) like the negative bank",
                                             actual: [positiveBank.count, positiveBank.dimension])
        }
        try negative.validate("negative k-NN result")
        try positive.validate("positive k-NN result")
        let p = features.shape.first ?? 0
        guard features.rank == 2, p > 0, features.shape[1] == negativeBank.dimension,
              negative.queryCount == p, positive.queryCount == p, negative.k >= 1, positive.k >= 1 else {
            throw ScoringError.shapeMismatch(
                what: "patch features / k-NN results",
                expected: "features (P, \(negativeBank.dimension)) with P >= 1 and one k-NN row per patch for each bank",
                actual: features.shape + negative.distances.shape + positive.distances.shape)
        }
    }
}

/// Calibration of the `log_ratio` rule: mean and (population) standard deviation of log(s_N + eps) and of
/// log(s_P + eps) over the training (good) images, so that the image score
/// (log(s_N + eps) - meanN) / stdN - (log(s_P + eps) - meanP) / stdP weighs both banks by how much their scores
/// vary on normal data, instead of letting the side with the larger spread dominate (the plain ratio).
///
/// ```swift
/// let cal = try DualLogRatioCalibration.fit(negativeScores: trainSN, positiveScores: trainSP)
/// let dual = DualScoring(rule: .logRatio, logRatioCalibration: cal)
/// ```
public struct DualLogRatioCalibration: Sendable, Codable, Equatable {
    public var meanLogNegative: Float
    public var stdLogNegative: Float
    public var meanLogPositive: Float
    public var stdLogPositive: Float

    public init(meanLogNegative: Float, stdLogNegative: Float, meanLogPositive: Float, stdLogPositive: Float) {
        self.meanLogNegative = meanLogNegative; self.stdLogNegative = stdLogNegative
        self.meanLogPositive = meanLogPositive; self.stdLogPositive = stdLogPositive
    }

    /// No calibration: z = identity.
    public static let identity = DualLogRatioCalibration(meanLogNegative: 0, stdLogNegative: 1, meanLogPositive: 0, stdLogPositive: 1)

    /// Statistics of log(s + eps) of the training images' s_N and s_P (a std of 0 becomes 1).
    public static func fit(negativeScores: [Float], positiveScores: [Float], epsilon: Float = 1e-6) throws -> DualLogRatioCalibration {
        guard !negativeScores.isEmpty, negativeScores.count == positiveScores.count else {
            throw ScoringError.noScores(what: "training s_N / s_P scores (\(negativeScores.count) / \(positiveScores.count))")
        }
        func stats(_ s: [Float]) throws -> (Float, Float) {
            let logs = s.map { log(Double(Swift.max($0, 0) + epsilon)) }
            guard logs.allSatisfy(\.isFinite) else {
                throw ScoringError.invalidParameter(name: "training scores", value: "non-finite values", expected: "finite scores")
            }
            let mean = logs.reduce(0, +) / Double(logs.count)
            let std = (logs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(logs.count)).squareRoot()
            return (Float(mean), std > 0 ? Float(std) : 1)
        }
        let (mn, sn) = try stats(negativeScores), (mp, sp) = try stats(positiveScores)
        return DualLogRatioCalibration(meanLogNegative: mn, stdLogNegative: sn, meanLogPositive: mp, stdLogPositive: sp)
    }

    func zNegative(_ x: Float) -> Float { (x - meanLogNegative) / (stdLogNegative > 0 ? stdLogNegative : 1) }
    func zPositive(_ x: Float) -> Float { (x - meanLogPositive) / (stdLogPositive > 0 ? stdLogPositive : 1) }

    enum CodingKeys: String, CodingKey {
        case meanLogNegative = "mean_log_negative", stdLogNegative = "std_log_negative"
        case meanLogPositive = "mean_log_positive", stdLogPositive = "std_log_positive"
    }
}
