import Foundation
import TensorCore

/// The neighbourhood softmax of PatchCore's reweighting (paper Eq. 7), shared by `NeighbourhoodReweighting`
/// (w = 1 - q with s = d_0, T = 1, as anomalib) and `DualScoring` (w_N = 1 - q, w_P = q with s = s*, T = sqrt(D)):
///
///     q = exp(s / T) / sum_j exp(d_j / T)
///
/// d_j = ||m^test - N_b_j|| are the distances from the test patch to the support rows N_b. Evaluated in Double
/// with a max shift over {s} and the d_j, so large distances do not overflow.
///
/// ```swift
/// supportQuotient(1, distances: [1, 1])   // 0.5
/// ```
public func supportQuotient(_ s: Double, distances: [Double], temperature: Double = 1) -> Double {
    let shift = (distances + [s]).max()! / temperature
    let total = distances.reduce(0) { $0 + exp($1 / temperature - shift) }
    return exp(s / temperature - shift) / total
}

/// d_j = ||features_row - rows_j||, differences and sums in Double: the distances of `supportQuotient`.
/// features (P, D), rows (b, D) -> b distances.
func supportDistances(row: Int, of features: Tensor, to rows: Tensor) -> [Double] {
    let d = features.shape[1]
    let query = features.scalars[(row * d)..<((row + 1) * d)]
    return (0..<rows.shape[0]).map { j in
        var acc = 0.0
        for (c, q) in query.enumerated() {
            let diff = Double(q) - Double(rows.scalars[j * d + c])
            acc += diff * diff
        }
        return acc.squareRoot()
    }
}
