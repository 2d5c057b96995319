import Foundation

/// The best F1 over all thresholds and the threshold that reaches it.
public struct F1Max: Sendable, Equatable, Codable {
    /// max over thresholds t of F1(t) = 2 TP / (2 TP + FP + FN).
    public var f1: Double
    /// Predict "defect" for scores `>= threshold`. Among thresholds with equal F1 the lowest is chosen,
    /// matching `argmax` over torchmetrics' ascending threshold list (anomalib `F1Max`).
    public var threshold: Float
}

extension Metrics {
    /// Average precision with `sklearn.metrics.average_precision_score` semantics:
    /// `AP = sum_k (R_k - R_{k-1}) P_k` over distinct thresholds from high to low (step-wise, no interpolation),
    /// where `P_k = TP_k / (TP_k + FP_k)` and `R_k = TP_k / P` count scores `>= t_k`.
    ///
    /// ```swift
    /// try Metrics.averagePrecision(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true])  // 0.8333...
    /// ```
    /// - Throws: `MetricError` for empty, mismatched, NaN or one-class input (sklearn returns a warning and
    ///   a meaningless value when there are no positives; here it is an error).
    public static func averagePrecision(scores: [Float], labels: [Bool]) throws -> Double {
        let ranked = try RankedScores(metric: "average precision", scores: scores, labels: labels)
        try ranked.requireBothClasses("average precision")
        var tp = 0, fp = 0
        var sum = 0.0   // sum_k dTP_k * P_k; dividing by P once at the end keeps AP = 1 exact when perfect
        ranked.forEachGroupDescending { _, dp, dn in
            tp += dp; fp += dn
            if dp > 0 { sum += Double(dp) * (Double(tp) / Double(tp + fp)) }
        }
        return sum / Double(ranked.positives)
    }

    /// Maximum F1 over the precision-recall curve (anomalib `F1Max`), with the threshold reaching it.
    /// F1 is compared exactly (integer cross-multiplication), so ties in F1 resolve deterministically
    /// to the lowest threshold.
    ///
    /// ```swift
    /// let m = try Metrics.f1Max(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true])
    /// // m.f1 == 0.8, m.threshold == 0.35
    /// ```
    /// - Throws: `MetricError` for empty, mismatched, NaN or one-class input.
    public static func f1Max(scores: [Float], labels: [Bool]) throws -> F1Max {
        let ranked = try RankedScores(metric: "F1-max", scores: scores, labels: labels)
        try ranked.requireBothClasses("F1-max")
        let p = ranked.positives
        var tp = 0, fp = 0
        // best F1 = bestNum / bestDen with F1 = 2 TP / (TP + FP + P)
        var bestNum = 0, bestDen = 1
        var bestKey: UInt32 = 0
        var first = true
        ranked.forEachGroupDescending { key, dp, dn in
            tp += dp; fp += dn
            let num = 2 * tp, den = tp + fp + p
            // >= : later (lower) thresholds win ties
            if first || num * bestDen >= bestNum * den {
                bestNum = num; bestDen = den; bestKey = key; first = false
            }
        }
        return F1Max(f1: Double(bestNum) / Double(bestDen), threshold: scoreFromKey(bestKey))
    }
}

/// A precision-recall curve, one point per distinct score from the highest threshold down, as
/// `sklearn.metrics.precision_recall_curve` read backwards, without its final `(recall 0, precision 1)` point.
public struct PrecisionRecallCurve: Sendable, Equatable {
    /// Recall at each threshold, non-decreasing, ending at 1.
    public var recall: [Double]
    /// Precision at each threshold.
    public var precision: [Double]
    /// Thresholds, decreasing: point k counts the scores `>= thresholds[k]` as defects.
    public var thresholds: [Float]
}

extension Metrics {
    /// Precision-recall curve with ties handled like sklearn (one point per distinct score).
    ///
    /// ```swift
    /// let c = try Metrics.precisionRecallCurve(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true])
    /// // c.recall == [0.5, 0.5, 1, 1], c.precision == [1, 0.5, 0.667, 0.5], thresholds 0.8, 0.4, 0.35, 0.1
    /// ```
    /// - Throws: `MetricError` for empty, mismatched, NaN or one-class input.
    public static func precisionRecallCurve(scores: [Float], labels: [Bool]) throws -> PrecisionRecallCurve {
        let ranked = try RankedScores(metric: "precision-recall curve", scores: scores, labels: labels)
        try ranked.requireBothClasses("precision-recall curve")
        let p = Double(ranked.positives)
        var curve = PrecisionRecallCurve(recall: [], precision: [], thresholds: [])
        var tp = 0, fp = 0
        ranked.forEachGroupDescending { key, dp, dn in
            tp += dp; fp += dn
            curve.recall.append(Double(tp) / p)
            curve.precision.append(Double(tp) / Double(tp + fp))
            curve.thresholds.append(scoreFromKey(key))
        }
        return curve
    }
}
