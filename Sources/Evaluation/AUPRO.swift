import Foundation
import TensorCore

// Notation (MVTec AD, Bergmann et al. 2021; anomalib AUPRO):
//   C_1..C_R   connected components (8-connectivity) of the ground-truth masks, over all test images
//   t          threshold; a pixel is predicted anomalous iff its score >= t (t runs over distinct scores)
//   PRO(t)     = (1/R) sum_r |{p in C_r : s_p >= t}| / |C_r|
//   FPR(t)     = |{p good : s_p >= t}| / |{p good}|, good = mask zero, in all test images
//   AUPRO(L)   = (1/L) * integral_0^L PRO d(FPR), trapezoids over the points (FPR(t), PRO(t)) starting at (0, 0),
//                the last segment cut at FPR = L with PRO linearly interpolated there.

extension Metrics {
    /// Normalised area under the per-region-overlap curve up to a false-positive rate `fprLimit`
    /// (default 0.3, as in MVTec AD and anomalib). See the notation block above for the exact definition.
    /// Exact and tie-aware: PRO and FPR are updated incrementally in one O(n) sweep over radix-sorted scores.
    ///
    /// Differences from anomalib: anomalib interpolates each region's own ROC on a shared FPR grid; here every
    /// distinct score is a curve point, which is the exact curve (results agree to the 3rd-4th decimal).
    ///
    /// ```swift
    /// let aupro = try Metrics.aupro([try ScoredMask(map: m1, mask: gt1), try ScoredMask(map: m2, mask: nil)])
    /// ```
    /// - Throws: `MetricError` if there are no defect regions, no good pixels, a NaN score, or
    ///   `fprLimit` is not in (0, 1].
    public static func aupro(_ items: [ScoredMask], fprLimit: Double = 0.3) throws -> Double {
        let metric = "AUPRO"
        guard fprLimit > 0, fprLimit <= 1 else {
            throw MetricError.invalidArgument(metric: metric, reason: "FPR limit \(fprLimit) must be in (0, 1]")
        }
        // 1. regions and keys: negatives as keys, positives as (key << 32 | region)
        var regionSizes: [Int] = [0]   // index 0 unused
        var negativeKeys: [UInt32] = []
        var positives: [UInt64] = []
        let total = items.reduce(0) { $0 + $1.scores.count }
        let nPos = items.reduce(0) { $0 + $1.defectPixelCount }
        guard total > 0 else { throw MetricError.empty(metric: metric) }
        negativeKeys.reserveCapacity(total - nPos)
        positives.reserveCapacity(nPos)
        var offset = 0
        for item in items {
            let s = item.scores
            if let i = s.firstIndex(where: { $0.isNaN }) { throw MetricError.nanScore(metric: metric, index: offset + i) }
            if let mask = item.mask, nPos > 0 {
                let (labels, count) = connectedComponents(mask: mask, width: item.width, height: item.height,
                                                        connectivity: .eight)  // as cv2 in anomalib
                let base = regionSizes.count - 1
                regionSizes.append(contentsOf: repeatElement(0, count: count))
                for i in 0..<s.count {
                    let l = Int(labels[i])
                    if l == 0 {
                        negativeKeys.append(sortableKey(s[i]))
                    } else {
                        regionSizes[base + l] += 1
                        positives.append(UInt64(sortableKey(s[i])) << 32 | UInt64(base + l))
                    }
                }
            } else {
                for v in s { negativeKeys.append(sortableKey(v)) }
            }
            offset += s.count
        }
        let regionCount = regionSizes.count - 1
        if regionCount == 0 || negativeKeys.isEmpty {
            throw MetricError.oneClassOnly(metric: metric, positives: positives.count, negatives: negativeKeys.count)
        }
        radixSort(&negativeKeys)
        radixSort(&positives, keyShift: 32)
        // weight of one pixel of region r in PRO: 1 / (R |C_r|)
        let weights = regionSizes.map { $0 == 0 ? 0 : 1.0 / (Double(regionCount) * Double($0)) }

        // 2. sweep distinct thresholds from high to low, integrating up to fprLimit
        let nNeg = Double(negativeKeys.count)
        var area = 0.0
        var prevFpr = 0.0, prevPro = 0.0
        var fp = 0
        var pro = 0.0
        var i = positives.count - 1, j = negativeKeys.count - 1
        while i >= 0 || j >= 0 {
            let pk: UInt32 = i >= 0 ? UInt32(truncatingIfNeeded: positives[i] >> 32) : 0
            let k: UInt32 = i < 0 ? negativeKeys[j] : (j < 0 ? pk : max(pk, negativeKeys[j]))
            while i >= 0 && UInt32(truncatingIfNeeded: positives[i] >> 32) == k {
                pro += weights[Int(positives[i] & 0xFFFF_FFFF)]
                i -= 1
            }
            while j >= 0 && negativeKeys[j] == k { fp += 1; j -= 1 }
            let fpr = Double(fp) / nNeg
            if j < 0 && i < 0 { pro = 1 }   // every region fully covered; drop summation round-off
            if fpr >= fprLimit {
                let proAtLimit = fpr > prevFpr ? prevPro + (pro - prevPro) * (fprLimit - prevFpr) / (fpr - prevFpr) : pro
                area += (fprLimit - prevFpr) * (prevPro + proAtLimit) / 2
                return area / fprLimit
            }
            area += (fpr - prevFpr) * (prevPro + pro) / 2
            prevFpr = fpr; prevPro = pro
        }
        return area / fprLimit   // unreachable: the last point has FPR 1 >= fprLimit
    }

    /// Naive reference for `aupro`: recomputes FPR and PRO from scratch at every distinct threshold, O(n T).
    /// For tests only.
    static func auproNaive(_ items: [ScoredMask], fprLimit: Double = 0.3) -> Double {
        var regionPixels: [[Float]] = []
        var good: [Float] = []
        for item in items {
            if let mask = item.mask {
                let (labels, count) = connectedComponents(mask: mask, width: item.width, height: item.height,
                                                        connectivity: .eight)  // as cv2 in anomalib
                var regions = [[Float]](repeating: [], count: count)
                for i in 0..<item.scores.count {
                    if labels[i] == 0 { good.append(item.scores[i]) } else { regions[Int(labels[i]) - 1].append(item.scores[i]) }
                }
                regionPixels += regions
            } else {
                good += item.scores
            }
        }
        let thresholds = Array(Set(good + regionPixels.flatMap { $0 })).sorted(by: >)
        var points: [(Double, Double)] = [(0, 0)]
        for t in thresholds {
            let fpr = Double(good.filter { $0 >= t }.count) / Double(good.count)
            let pro = regionPixels.map { r in Double(r.filter { $0 >= t }.count) / Double(r.count) }.reduce(0, +) / Double(regionPixels.count)
            points.append((fpr, pro))
        }
        var area = 0.0
        for k in 1..<points.count {
            let (f0, p0) = points[k - 1], (f1, p1) = points[k]
            if f1 >= fprLimit {
                let pAt = f1 > f0 ? p0 + (p1 - p0) * (fprLimit - f0) / (f1 - f0) : p1
                area += (fprLimit - f0) * (p0 + pAt) / 2
                break
            }
            area += (f1 - f0) * (p0 + p1) / 2
        }
        return area / fprLimit
    }
}
