import Foundation

extension Metrics {
    /// Pixel-level AUROC over every pixel of every test image (MVTec AD "pixel AUROC"): positives are
    /// pixels whose mask is non-zero, negatives all other pixels (all pixels of good images included).
    /// Exact and tie-aware like `roc_auc_score` on the flattened maps; O(n) radix sort plus a merge,
    /// 4 bytes of working memory per pixel plus one sort scratch buffer (40M pixels: ~0.3 GB peak).
    ///
    /// ```swift
    /// let auc = try Metrics.pixelAUROC([try ScoredMask(map: m1, mask: gt1), try ScoredMask(map: m2, mask: nil)])
    /// ```
    /// - Throws: `MetricError` if there are no pixels, a NaN score, or no defect (or no good) pixels.
    public static func pixelAUROC(_ items: [ScoredMask]) throws -> Double {
        let metric = "pixel AUROC"
        let nPos = items.reduce(0) { $0 + $1.defectPixelCount }
        let total = items.reduce(0) { $0 + $1.scores.count }
        guard total > 0 else { throw MetricError.empty(metric: metric) }
        // fill preallocated key arrays in place (no per-element append)
        var ranked = RankedScores()
        ranked.positiveKeys = [UInt32](repeating: 0, count: nPos)
        ranked.negativeKeys = [UInt32](repeating: 0, count: total - nPos)
        var offset = 0, ip = 0, ineg = 0
        try ranked.positiveKeys.withUnsafeMutableBufferPointer { pos in
            try ranked.negativeKeys.withUnsafeMutableBufferPointer { neg in
                for item in items {
                    try item.scores.withUnsafeBufferPointer { s in
                        for i in 0..<s.count where s[i].isNaN {
                            throw MetricError.nanScore(metric: metric, index: offset + i)
                        }
                        if let mask = item.mask {
                            mask.withUnsafeBufferPointer { m in
                                for i in 0..<s.count {
                                    if m[i] != 0 { pos[ip] = sortableKey(s[i]); ip += 1 } else { neg[ineg] = sortableKey(s[i]); ineg += 1 }
                                }
                            }
                        } else {
                            for i in 0..<s.count { neg[ineg] = sortableKey(s[i]); ineg += 1 }
                        }
                    }
                    offset += item.scores.count
                }
            }
        }
        ranked.sort()
        return try auroc(ranked: ranked, metric: metric)
    }

    /// `pixelAUROC(shared + group)` for each group (nil for a group without defect pixels), the same values, with
    /// the shared images' pixels (the good images, for the per-defect-type figures) sorted once instead of once per
    /// group: the Mann-Whitney count of the union is the sum of the counts of its four class pairs, each counted by
    /// merging two sorted key arrays.
    /// - Throws: as `pixelAUROC`, for a NaN score or a group whose union has no good pixels.
    public static func pixelAUROC(groups: [[ScoredMask]], shared: [ScoredMask]) throws -> [Double?] {
        let metric = "pixel AUROC"
        let common = try sortedKeys(shared, metric: metric)
        let commonTwice = twiceMannWhitney(common.positive, common.negative)
        return try groups.map { group in
            let own = try sortedKeys(group, metric: metric)
            if own.positive.isEmpty { return nil }
            let p = common.positive.count + own.positive.count, n = common.negative.count + own.negative.count
            if n == 0 { throw MetricError.oneClassOnly(metric: metric, positives: p, negatives: n) }
            let twice = commonTwice + twiceMannWhitney(common.positive, own.negative)
                + twiceMannWhitney(own.positive, common.negative) + twiceMannWhitney(own.positive, own.negative)
            return Double(twice) / (2.0 * Double(p) * Double(n))
        }
    }

    /// The defect and good pixels' keys of `items`, each ascending.
    private static func sortedKeys(_ items: [ScoredMask], metric: String) throws -> (positive: [UInt32], negative: [UInt32]) {
        var positive: [UInt32] = [], negative: [UInt32] = []
        let nPos = items.reduce(0) { $0 + $1.defectPixelCount }
        positive.reserveCapacity(nPos)
        negative.reserveCapacity(items.reduce(0) { $0 + $1.scores.count } - nPos)
        var offset = 0
        for item in items {
            for (i, s) in item.scores.enumerated() {
                if s.isNaN { throw MetricError.nanScore(metric: metric, index: offset + i) }
                if let mask = item.mask, mask[i] != 0 { positive.append(sortableKey(s)) } else { negative.append(sortableKey(s)) }
            }
            offset += item.scores.count
        }
        radixSort(&positive)
        radixSort(&negative)
        return (positive, negative)
    }

    /// 2 #{(p, n): p > n} + #{(p, n): p == n} over ascending keys: twice the area under the ROC curve on the count
    /// scale, as `auroc(ranked:metric:)` sums it.
    static func twiceMannWhitney(_ positive: [UInt32], _ negative: [UInt32]) -> Int {
        var total = 0, below = 0, j = 0, i = 0
        while i < positive.count {
            let key = positive[i]
            var run = 0
            while i < positive.count && positive[i] == key { run += 1; i += 1 }
            while j < negative.count && negative[j] < key { below += 1; j += 1 }
            var equal = 0
            while j + equal < negative.count && negative[j + equal] == key { equal += 1 }
            total += run * (2 * below + equal)
        }
        return total
    }
}
