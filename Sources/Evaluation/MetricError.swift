import Foundation

/// Why a metric could not be computed. Degenerate inputs throw rather than return NaN,
/// so a report never silently carries a meaningless number.
public enum MetricError: Error, CustomStringConvertible, Equatable {
    /// No scores at all.
    case empty(metric: String)
    /// `scores.count != labels.count` (or a map and its mask disagree in size).
    case countMismatch(metric: String, scores: Int, labels: Int)
    /// A score is NaN; `index` is its position in the (flattened) input.
    case nanScore(metric: String, index: Int)
    /// Only one class is present, so the curve is undefined (sklearn raises/warns here too).
    case oneClassOnly(metric: String, positives: Int, negatives: Int)
    /// Bad argument (e.g. an FPR limit outside (0, 1]).
    case invalidArgument(metric: String, reason: String)

    public var description: String {
        switch self {
        case let .empty(m): return "\(m): no scores given"
        case let .countMismatch(m, s, l): return "\(m): \(s) scores but \(l) labels; expected one label per score"
        case let .nanScore(m, i): return "\(m): score at index \(i) is NaN; scores must be numbers"
        case let .oneClassOnly(m, p, n):
            return "\(m): undefined with only one class (\(p) positive, \(n) negative); need both good and defect samples"
        case let .invalidArgument(m, r): return "\(m): \(r)"
        }
    }
}
