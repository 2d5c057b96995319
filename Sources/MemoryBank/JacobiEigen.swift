/// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations (Double).
///
/// a (n,n) row-major symmetric. Returns eigenvalues in descending order and the matching eigenvectors as
/// the columns of a row-major (n,n) matrix. The vectors are a product of plane rotations, so they are
/// orthonormal to Double rounding whether or not the sweeps fully converged (which is what
/// `RotatedLowerBounds` relies on; the ordering by eigenvalue only affects how well its bounds prune).
///
/// ```swift
/// let (values, vectors) = JacobiEigen.decompose([2, 1, 1, 2], n: 2)   // values [3, 1]
/// ```
enum JacobiEigen {
    static func decompose(_ matrix: [Double], n: Int, maxSweeps: Int = 12) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<maxSweeps {
            var off = 0.0, diag = 0.0
            for p in 0..<n {
                diag += a[p * n + p] * a[p * n + p]
                for q in (p + 1)..<max(p + 1, n) { off += a[p * n + q] * a[p * n + q] }
            }
            if off <= 1e-24 * diag || off == 0 { break }
            for p in 0..<n {
                for q in (p + 1)..<max(p + 1, n) {
                    let apq = a[p * n + q]
                    if apq == 0 { continue }
                    // Rotation J (J_pp = J_qq = c, J_pq = s, J_qp = -s) with (J^T A J)_pq = 0.
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {                                  // A J (columns p, q)
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {                                  // J^T (A J) (rows p, q)
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {                                  // V J
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] > a[$1 * n + $1] }
        var vectors = [Double](repeating: 0, count: n * n)
        for (col, src) in order.enumerated() {
            for k in 0..<n { vectors[k * n + col] = v[k * n + src] }
        }
        return (order.map { a[$0 * n + $0] }, vectors)
    }
}
