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
        var ranked = RankedScores()
        let nPos = items.reduce(0) { $0 + $1.defectPixelCount }
        let total = items.reduce(0) { $0 + $1.scores.count }
        guard total > 0 else { throw MetricError.empty(metric: metric) }
        ranked.positiveKeys.reserveCapacity(nPos)
        ranked.negativeKeys.reserveCapacity(total - nPos)
        var offset = 0
        for item in items {
            try item.scores.withUnsafeBufferPointer { s in
                for i in 0..<s.count where s[i].isNaN {
                    throw MetricError.nanScore(metric: metric, index: offset + i)
                }
                if let mask = item.mask {
                    mask.withUnsafeBufferPointer { m in
                        for i in 0..<s.count {
                            if m[i] != 0 { ranked.positiveKeys.append(sortableKey(s[i])) } else { ranked.negativeKeys.append(sortableKey(s[i])) }
                        }
                    }
                } else {
                    for i in 0..<s.count { ranked.negativeKeys.append(sortableKey(s[i])) }
                }
            }
            offset += item.scores.count
        }
        ranked.sort()
        return try auroc(ranked: ranked, metric: metric)
    }
}
