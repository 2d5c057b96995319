import Foundation

/// Exact, tie-aware evaluation metrics for anomaly detection.
///
/// Conventions shared by every metric:
/// - higher score = more anomalous; label `true` = defect (positive class);
/// - a threshold `t` predicts "defect" for every score `>= t`; thresholds are the distinct scores,
///   so tied scores always move together (no arbitrary tie order, as in sklearn);
/// - NaN scores, empty input and one-class input throw `MetricError` (never a silent NaN);
/// - ±infinity are ordinary (extreme) scores.
///
/// ```swift
/// let auc = try Metrics.auroc(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true])  // 0.75
/// ```
public enum Metrics {}
