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
}
