import Foundation

/// Scores split by class and sorted (as order-preserving keys), ready for an exact threshold sweep.
///
/// Memory: 4 bytes per score plus one transient scratch buffer for the larger class while sorting;
/// no per-score index or label array is kept, so tens of millions of pixels fit comfortably.
struct RankedScores {
    /// Keys of positive (defect) scores, ascending.
    var positiveKeys: [UInt32] = []
    /// Keys of negative (good) scores, ascending.
    var negativeKeys: [UInt32] = []

    var positives: Int { positiveKeys.count }
    var negatives: Int { negativeKeys.count }

    init() {}

    /// Scores with one Bool label each.
    init(metric: String, scores: [Float], labels: [Bool]) throws {
        guard scores.count == labels.count else {
            throw MetricError.countMismatch(metric: metric, scores: scores.count, labels: labels.count)
        }
        guard !scores.isEmpty else { throw MetricError.empty(metric: metric) }
        let nPos = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
        positiveKeys.reserveCapacity(nPos)
        negativeKeys.reserveCapacity(scores.count - nPos)
        for i in 0..<scores.count {
            let s = scores[i]
            if s.isNaN { throw MetricError.nanScore(metric: metric, index: i) }
            if labels[i] { positiveKeys.append(sortableKey(s)) } else { negativeKeys.append(sortableKey(s)) }
        }
        sort()
    }

    mutating func sort() {
        radixSort(&positiveKeys)
        radixSort(&negativeKeys)
    }

    func requireBothClasses(_ metric: String) throws {
        if positiveKeys.isEmpty && negativeKeys.isEmpty { throw MetricError.empty(metric: metric) }
        if positiveKeys.isEmpty || negativeKeys.isEmpty {
            throw MetricError.oneClassOnly(metric: metric, positives: positives, negatives: negatives)
        }
    }

    /// Visits each distinct score once, from highest to lowest, with the number of positives and
    /// negatives that have exactly that score: `body(key, dPositives, dNegatives)`.
    func forEachGroupDescending(_ body: (UInt32, Int, Int) -> Void) {
        positiveKeys.withUnsafeBufferPointer { p in
            negativeKeys.withUnsafeBufferPointer { n in
                var i = p.count - 1
                var j = n.count - 1
                while i >= 0 || j >= 0 {
                    let k: UInt32
                    if i < 0 { k = n[j] } else if j < 0 { k = p[i] } else { k = max(p[i], n[j]) }
                    var dp = 0
                    while i >= 0 && p[i] == k { dp += 1; i -= 1 }
                    var dn = 0
                    while j >= 0 && n[j] == k { dn += 1; j -= 1 }
                    body(k, dp, dn)
                }
            }
        }
    }
}
