import Foundation

/// A receiver operating characteristic curve, one point per distinct score plus the origin,
/// as `sklearn.metrics.roc_curve(y, s, drop_intermediate=False)`.
public struct ROCCurve: Sendable, Equatable {
    /// False-positive rate at each threshold, non-decreasing, from 0 to 1.
    public var fpr: [Double]
    /// True-positive rate at each threshold, non-decreasing, from 0 to 1.
    public var tpr: [Double]
    /// Thresholds, decreasing; the first is `+infinity` (nothing predicted positive).
    public var thresholds: [Float]
}

extension Metrics {
    /// ROC curve with ties handled like `sklearn.metrics.roc_curve(..., drop_intermediate=False)`:
    /// point k counts the scores `>= thresholds[k]`, the distinct scores in decreasing order,
    /// preceded by `(0, 0)` at threshold `+inf`.
    ///
    /// ```swift
    /// let c = try Metrics.rocCurve(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true])
    /// // c.fpr == [0, 0, 0.5, 0.5, 1], c.tpr == [0, 0.5, 0.5, 1, 1]
    /// ```
    /// - Throws: `MetricError` for empty, mismatched, NaN or one-class input.
    public static func rocCurve(scores: [Float], labels: [Bool]) throws -> ROCCurve {
        let ranked = try RankedScores(metric: "ROC curve", scores: scores, labels: labels)
        try ranked.requireBothClasses("ROC curve")
        let p = Double(ranked.positives), n = Double(ranked.negatives)
        var curve = ROCCurve(fpr: [0], tpr: [0], thresholds: [.infinity])
        var tp = 0, fp = 0
        ranked.forEachGroupDescending { key, dp, dn in
            tp += dp; fp += dn
            curve.fpr.append(Double(fp) / n)
            curve.tpr.append(Double(tp) / p)
            curve.thresholds.append(scoreFromKey(key))
        }
        return curve
    }

    /// Area under the ROC curve, exactly as `sklearn.metrics.roc_auc_score` (trapezoids over the tie-aware
    /// curve), computed as the tie-corrected Mann-Whitney statistic with integer arithmetic:
    /// `AUROC = P(s_defect > s_good) + 0.5 P(s_defect == s_good)`.
    ///
    /// Runs in O(n) after an O(n) radix sort; suitable for tens of millions of scores.
    /// ```swift
    /// try Metrics.auroc(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true])  // 0.75
    /// ```
    /// - Throws: `MetricError` for empty, mismatched, NaN or one-class input.
    public static func auroc(scores: [Float], labels: [Bool]) throws -> Double {
        try auroc(ranked: RankedScores(metric: "AUROC", scores: scores, labels: labels), metric: "AUROC")
    }

    static func auroc(ranked: RankedScores, metric: String) throws -> Double {
        try ranked.requireBothClasses(metric)
        // Twice the trapezoid area on the count scale: each group of dn negatives sits under a
        // TPR that rises from tp to tp + dp, so it adds dn * (2 tp + dp). Exact in Int.
        var twiceArea = 0
        var tp = 0
        ranked.forEachGroupDescending { _, dp, dn in
            twiceArea += dn * (2 * tp + dp)
            tp += dp
        }
        return Double(twiceArea) / (2.0 * Double(ranked.positives) * Double(ranked.negatives))
    }

    /// Naive reference for `auroc`: all positive/negative pairs, O(P N). For tests only.
    static func aurocNaive(scores: [Float], labels: [Bool]) -> Double {
        var wins = 0.0, pairs = 0.0
        for i in scores.indices where labels[i] {
            for j in scores.indices where !labels[j] {
                pairs += 1
                if scores[i] > scores[j] { wins += 1 } else if scores[i] == scores[j] { wins += 0.5 }
            }
        }
        return wins / pairs
    }
}
