import TensorCore

/// The mean and the leading principal axes of a set of rows, and the rotation of rows onto them: y = (x - mu) V.
/// Shared by the coreset's lower bounds (`RotatedLowerBounds`) and the bank's quantized search
/// (`QuantizedBankIndex`). The covariance comes from an even sample of at most ~16k rows, in Double.
///
/// ```swift
/// let axes = PrincipalAxes(x, n: n, d: 128, width: 32)   // V (128, 32)
/// let rMax = axes.rotate(x, rows: n, into: y)            // y (n, 32); rMax = max ||x_i - mu||
/// ```
struct PrincipalAxes: Sendable {
    let d: Int
    /// Columns of V; columns past d are zero (padding).
    let width: Int
    let mean: [Float]                 // (d)
    let axes: [Float]                 // V (d, width), largest variance first

    init(_ x: UnsafePointer<Float>, n: Int, d: Int, width: Int) {
        self.d = d; self.width = width
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for l in 0..<d { mean[l] += Double(x[i * d + l]) } }
        for l in 0..<d { mean[l] /= Double(n) }
        let stride = max(1, n / 16384)
        var cov = [Double](repeating: 0, count: d * d)
        var row = [Double](repeating: 0, count: d)
        for i in Swift.stride(from: 0, to: n, by: stride) {
            for l in 0..<d { row[l] = Double(x[i * d + l]) - mean[l] }
            for a in 0..<d { let ra = row[a]; for b in a..<d { cov[a * d + b] += ra * row[b] } }
        }
        for a in 0..<d { for b in 0..<a { cov[a * d + b] = cov[b * d + a] } }
        let (_, vectors) = JacobiEigen.decompose(cov, n: d)
        var v = [Float](repeating: 0, count: d * width)
        for a in 0..<d { for b in 0..<min(d, width) { v[a * width + b] = Float(vectors[a * d + b]) } }
        self.mean = mean.map { Float($0) }
        self.axes = v
    }

    /// y = (x - mu) V for `rows` rows of x (rows, d) into out (rows, width), through sgemm in chunks of 4096 rows
    /// (one after another: sgemm itself uses the BLAS threads). Returns max ||x_i - mu|| over these rows.
    @discardableResult
    func rotate(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) -> Float {
        let chunk = 4096
        var rMax2: Float = 0
        let centred = UnsafeMutablePointer<Float>.allocate(capacity: min(rows, chunk) * d)
        defer { centred.deallocate() }
        mean.withUnsafeBufferPointer { mb in
            axes.withUnsafeBufferPointer { vb in
                var lo = 0
                while lo < rows {
                    let count = min(chunk, rows - lo)
                    for i in 0..<count {
                        let row = centred + i * d, source = x + (lo + i) * d
                        for l in 0..<d { row[l] = source[l] - mb[l] }
                        rMax2 = max(rMax2, squaredNorm(row, d))   // lanes, not one running sum: vectorised
                    }
                    sgemm(m: count, n: width, k: d, a: centred, lda: d, b: vb.baseAddress!, ldb: width,
                          c: out + lo * width, ldc: width)
                    lo += count
                }
            }
        }
        return rMax2.squareRoot()
    }

    /// Bound on the float32 rounding of a rotated coordinate vector, summed over both points of a distance:
    /// per coordinate at most (d + 2) u ||x - mu|| (sgemm of the centred row), so over `width` coordinates of
    /// both points E = 4 sqrt(width) (d + 4) u R with R >= ||x - mu|| of both (widened 1%).
    func roundingBound(maxCentredNorm r: Float) -> Float {
        let u = Float(1.0 / 16_777_216.0)
        return 4 * Float(width).squareRoot() * Float(d + 4) * u * r * 1.01
    }
}
