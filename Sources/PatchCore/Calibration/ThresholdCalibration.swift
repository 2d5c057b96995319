import Foundation
import Scoring

/// How a model's decision threshold was set, recorded in the model file so a user can tell why a part was flagged.
public struct ThresholdProvenance: Sendable, Codable, Equatable, CustomStringConvertible {
    public enum Rule: String, Sendable, Codable, CaseIterable {
        /// A quantile of held-out good images' scores for a target false-reject rate (the default).
        case falseRejectRate = "false_reject_rate"
        /// The F1-optimal threshold on a labelled set (`evaluate --set-threshold f1`).
        case f1
        /// A value the user gave.
        case manual
        /// The largest training-image score (models written before held-out calibration; biased low, since the
        /// bank was built from those same images).
        case maxTraining = "max_training"
    }

    public var rule: Rule
    /// For `falseRejectRate`: the target rate.
    public var targetFalseRejectRate: Double?
    /// How many images set the threshold (0 for `manual`).
    public var images: Int
    /// Which images, in words ("held-out good images", "labelled set bottle (83 images)", ...).
    public var source: String
    /// The estimator, in words (which order statistic or tail rule).
    public var estimator: String

    public init(rule: Rule, targetFalseRejectRate: Double? = nil, images: Int, source: String, estimator: String) {
        self.rule = rule; self.targetFalseRejectRate = targetFalseRejectRate; self.images = images
        self.source = source; self.estimator = estimator
    }

    enum CodingKeys: String, CodingKey {
        case rule, images, source, estimator
        case targetFalseRejectRate = "target_false_reject_rate"
    }

    public var description: String {
        switch rule {
        case .falseRejectRate:
            return "target false-reject rate \(targetFalseRejectRate.map { String($0) } ?? "?") on \(images) \(source) (\(estimator))"
        case .f1: return "F1-optimal on \(source) (\(images) images)"
        case .manual: return "set by hand (\(source))"
        case .maxTraining: return "largest of \(images) training-image scores (\(estimator))"
        }
    }
}

/// What the held-out good images said about a model: their image scores, their anomaly maps' levels, the
/// threshold and where it came from. One decision rule everywhere: a part is anomalous when `score >= threshold`
/// (the same `>=` as evaluation's F1 threshold, so a threshold printed by `evaluate` reproduces its decisions).
///
/// Normalised score: `(score - medianGoodScore) / (threshold - medianGoodScore)`, so 0 is a typical good part and
/// 1.0 is the decision boundary on every model, whatever the backbone or the score's units.
///
/// Heatmap colours come from the same calibration, per model (never per image): map values at or below
/// `mapLow` (the median of the held-out images' map values) are not drawn, `mapThreshold` and above are the
/// decision colour. `mapThreshold` sits at the same place in the held-out images' map maxima as `threshold` in
/// their image scores (`z`-score matching: `mean_m + (threshold - mean_s) / std_s * std_m`), so a part scored at
/// the threshold shows a map just reaching the decision colour, for single and dual rules alike.
///
/// ```swift
/// let cal = try ModelCalibration.fit(goodScores: heldOut, mapMaxima: maxima, mapMedian: median,
///                                    policy: .falseRejectRate(0.01), source: "held-out good images")
/// cal.isAnomalous(s); cal.normalise(s)
/// ```
public struct ModelCalibration: Sendable, Codable, Equatable {
    /// Held-out good images' image scores, ascending: the distribution the threshold was read from.
    public var goodScores: [Float]
    /// Held-out good images' anomaly-map maxima, ascending.
    public var goodMapMaxima: [Float]
    public var medianGoodScore: Float
    /// Decision threshold in raw score units: `score >= threshold` is anomalous.
    public var threshold: Float
    public var provenance: ThresholdProvenance
    /// Heatmap scale: transparent at or below `mapLow`, decision colour at or above `mapThreshold`.
    public var mapLow: Float
    public var mapThreshold: Float

    public init(goodScores: [Float], goodMapMaxima: [Float], medianGoodScore: Float, threshold: Float,
                provenance: ThresholdProvenance, mapLow: Float, mapThreshold: Float) {
        self.goodScores = goodScores; self.goodMapMaxima = goodMapMaxima; self.medianGoodScore = medianGoodScore
        self.threshold = threshold; self.provenance = provenance; self.mapLow = mapLow; self.mapThreshold = mapThreshold
    }

    enum CodingKeys: String, CodingKey {
        case threshold, provenance
        case goodScores = "good_scores", goodMapMaxima = "good_map_maxima", medianGoodScore = "median_good_score"
        case mapLow = "map_low", mapThreshold = "map_threshold"
    }

    /// The decision rule: anomalous when `score >= threshold`.
    public func isAnomalous(_ score: Float) -> Bool { score >= threshold }

    /// 0 at the median held-out good score, 1 at the threshold.
    public func normalise(_ score: Float) -> Float {
        let span = threshold - medianGoodScore
        return (score - medianGoodScore) / (span > 0 ? span : 1)
    }

    /// How a threshold is chosen.
    public enum Policy: Sendable, Equatable {
        /// Target false-reject rate on good parts (e.g. 0.01), read from the held-out good scores.
        case falseRejectRate(Double)
        /// A fixed raw threshold.
        case manual(Float)
    }

    /// Calibration from held-out good images' scores and map levels.
    /// - Parameters:
    ///   - goodScores: image scores of good images the bank never saw.
    ///   - mapMaxima: each of those images' anomaly-map maximum.
    ///   - mapMedian: the median map value over those images (the heatmap's transparent level).
    public static func fit(goodScores: [Float], mapMaxima: [Float], mapMedian: Float, policy: Policy,
                           source: String) throws -> ModelCalibration {
        guard !goodScores.isEmpty, goodScores.count == mapMaxima.count else {
            throw PatchCoreError.invalidConfiguration("calibration needs one score and one map maximum per held-out image (got \(goodScores.count) and \(mapMaxima.count))")
        }
        guard goodScores.allSatisfy(\.isFinite), mapMaxima.allSatisfy(\.isFinite), mapMedian.isFinite else {
            throw PatchCoreError.invalidConfiguration("held-out scores must be finite numbers")
        }
        let scores = goodScores.sorted(), maxima = mapMaxima.sorted()
        let threshold: Float
        let provenance: ThresholdProvenance
        switch policy {
        case let .falseRejectRate(rate):
            let (t, estimator) = try falseRejectQuantile(scores, rate: rate)
            threshold = t
            provenance = ThresholdProvenance(rule: .falseRejectRate, targetFalseRejectRate: rate, images: scores.count,
                                             source: source, estimator: estimator)
        case let .manual(t):
            guard t.isFinite else { throw PatchCoreError.invalidConfiguration("threshold must be a finite number, got \(t)") }
            threshold = t
            provenance = ThresholdProvenance(rule: .manual, images: 0, source: source, estimator: "given")
        }
        var cal = ModelCalibration(goodScores: scores, goodMapMaxima: maxima, medianGoodScore: quantile(scores, 0.5),
                                   threshold: threshold, provenance: provenance, mapLow: mapMedian, mapThreshold: 0)
        cal.mapThreshold = cal.mapLevel(ofScore: threshold)
        return cal
    }

    /// The same calibration with another threshold (e.g. F1-optimal on a labelled set, or set by hand); the map's
    /// decision level moves with it.
    public func withThreshold(_ t: Float, provenance: ThresholdProvenance) throws -> ModelCalibration {
        guard t.isFinite else { throw PatchCoreError.invalidConfiguration("threshold must be a finite number, got \(t)") }
        var cal = self
        cal.threshold = t
        cal.provenance = provenance
        // Files without held-out scores have nothing to match the new threshold against: their map level stays.
        if !goodScores.isEmpty { cal.mapThreshold = mapLevel(ofScore: t) }
        return cal
    }

    /// Map level at the same standardised position among the held-out map maxima as `score` among the held-out
    /// image scores; never below `mapLow`.
    func mapLevel(ofScore score: Float) -> Float {
        let (ms, ss) = meanStd(goodScores), (mm, sm) = meanStd(goodMapMaxima)
        let z = ss > 0 ? (Double(score) - ms) / ss : (Double(score) >= ms ? 1 : -1)
        let level = sm > 0 ? mm + z * sm : mm * (1 + 0.1 * z)
        return Swift.max(Float(level), mapLow.nextUp)
    }

    /// The documented small-sample rule for a target false-reject rate `a` on `n` held-out scores (ascending):
    /// - when n is large enough for a distribution-free bound, `(n + 1)(1 - a) <= n`, the threshold is the
    ///   `ceil((n + 1)(1 - a))`-th smallest score made strictly larger (`nextUp`), the split-conformal quantile:
    ///   a new good part exchangeable with the held-out ones is rejected with probability at most `a`;
    /// - otherwise (e.g. 70 images for 1%: the bound would need 99), no order statistic can promise `a`, and the
    ///   threshold is the larger of the held-out maximum (made strictly larger) and the one-sided normal prediction
    ///   bound `mean + t(1 - a; n - 1) * std * sqrt(1 + 1/n)`: the level a new good score exceeds with probability
    ///   `a` when scores are normal and their mean and std are estimated from the n held-out ones (Student's t, so
    ///   few images give a wider margin than the known-variance `z`).
    /// - a rate of 0 asks that no calibration image be rejected: the largest score made strictly larger (with the
    ///   training images as calibration set, the rule of models written before held-out calibration).
    static func falseRejectQuantile(_ sorted: [Float], rate: Double) throws -> (Float, String) {
        guard rate >= 0, rate < 1, rate.isFinite else {
            throw PatchCoreError.invalidConfiguration("false-reject rate must be in [0, 1), got \(rate)")
        }
        let n = sorted.count
        if rate == 0 { return (sorted[n - 1].nextUp, "largest of \(n) scores") }
        let rank = Int((Double(n + 1) * (1 - rate)).rounded(.up))
        if rank <= n {
            return (sorted[rank - 1].nextUp, "conformal: score \(rank) of \(n) ascending")
        }
        let (mean, std) = meanStd(sorted)
        let bound = Float(mean + studentTQuantile(1 - rate, degrees: Double(max(n - 1, 1))) * std * (1 + 1 / Double(n)).squareRoot())
        let t = Swift.max(sorted[n - 1].nextUp, bound)
        return (t, "\(n) images are too few for a distribution-free \(rate) bound (needs \(Int((1 / rate).rounded(.up)) - 1)); larger of the maximum and the normal prediction bound mean + t*std*sqrt(1+1/n)")
    }
}

func meanStd(_ values: [Float]) -> (Double, Double) {
    guard !values.isEmpty else { return (0, 0) }
    let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
    let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(max(values.count - 1, 1))
    return (mean, variance.squareRoot())
}

/// Student's t quantile with `degrees` degrees of freedom, from the normal quantile by the Cornish-Fisher expansion
/// (Abramowitz & Stegun 26.7.5; within 1e-3 of the exact value from 4 degrees of freedom on, at the tail
/// probabilities used here).
func studentTQuantile(_ p: Double, degrees v: Double) -> Double {
    let z = normalQuantile(p)
    let z2 = z * z
    let g1 = (z2 + 1) * z / 4
    let g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    let g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    let g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
    return z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
}

/// Standard normal quantile (inverse CDF), Acklam's rational approximation (relative error < 1.2e-9), written
/// here because Foundation has no inverse error function.
func normalQuantile(_ p: Double) -> Double {
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    let low = 0.02425
    if p < low {
        let q = (-2 * log(p)).squareRoot()
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    if p > 1 - low {
        let q = (-2 * log(1 - p)).squareRoot()
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    let q = p - 0.5, r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
}
