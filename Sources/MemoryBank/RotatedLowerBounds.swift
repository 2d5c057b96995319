import TensorCore

/// Certified lower bounds on ||x_i - c||^2 from a PCA-rotated copy of the points, read 16 coordinates at a time.
///
/// y_i = V^T (x_i - mu) with V (d, d') orthonormal columns (principal axes of a sample, largest variance first,
/// d' = d rounded up to a multiple of 16 with zero columns as padding, at most 64). Rotation keeps distances, so the partial sum over
/// the first 16k rotated coordinates, L_k = sum_{l < 16k} (y_il - y_cl)^2, grows towards ||x_i - c||^2; on
/// patch features the first 16-32 coordinates already hold most of it. The greedy update of point i only
/// needs to know whether ||x_i - c||^2 < delta_i, and L over any subset of rotated coordinates is at most
/// ||x_i - c||^2, so as soon as L_k exceeds
///     T_i = (sqrt(delta_i) * 1.0001 + E)^2 * 1.0002
/// the exact distance cannot be below delta_i and is not computed. E covers the float32 rounding of y
/// (sgemm of the centred rows: per coordinate at most (d + 2) u ||x - mu||, so over d' coordinates of both
/// points E = 4 sqrt(d') (d + 4) u max_i ||x_i - mu||, u = 2^-24); the factors cover the rounding of L and
/// of T itself, and leave the computed `squaredDistance` (relative error < 1e-6) strictly above delta_i, so a
/// skipped point is one the plain algorithm would not update either. delta_i < 0 (selected) gives T_i = -1:
/// always skipped; delta_i = +inf never is.
///
/// Layout: y is (d'/16, N, 16): block k of every point is contiguous, so a pass over all points reads only
/// 64 bytes per point while the bound prunes.
///
/// A pass over every point (`survivors`) first reads a smaller copy: int8 codes of the first 32 rotated
/// coordinates (`Int8BoundCodes`, 32 bytes a point; for the banks of a fit, e.g. Magnetic Tile's 550k rows or
/// 17.6 MB, they mostly stay in the L3 cache between picks where y does not). Their bound is below the float
/// partial sum up to a relative rounding that the factors of T_i absorb, so a point it rules out is one
/// `canSkip` would skip too; the survivors then go through `canSkip` and the exact distance.
///
/// ```swift
/// let lb = RotatedLowerBounds(x, n: n, d: d)          // x (N,d)
/// lb.setThreshold(i, delta: delta[i]); lb.loadCentre(p)
/// if !lb.canSkip(i) { /* compute the exact distance */ }
/// ```
final class RotatedLowerBounds: @unchecked Sendable {
    /// At most 64 rotated coordinates are kept (N x 64 floats): on patch features the bound has decided ~99%
    /// of the points by then, and the rest get the exact distance anyway.
    static let maxBlocks = 4
    let n: Int, d: Int, blocks: Int
    let y: UnsafeMutablePointer<Float>                  // (blocks, N, 16)
    let threshold: UnsafeMutablePointer<Float>          // (N) T_i
    let centre: UnsafeMutablePointer<Float>             // (blocks * 16) rotated coordinates of the current centre
    let absError: Float                                 // E
    /// int8 codes of the first 32 rotated coordinates, for the dense pass; their padding points have T = -1.
    let codes: Int8BoundCodes
    let centreCode: UnsafeMutablePointer<Int8>          // (codes.groups * 4) codes of the current centre
    var paddedCount: Int { codes.paddedCount }

    init(_ x: UnsafePointer<Float>, n: Int, d: Int) {
        self.n = n; self.d = d
        blocks = min((d + 15) / 16, RotatedLowerBounds.maxBlocks)
        let dp = blocks * 16
        y = UnsafeMutableRawPointer.allocate(byteCount: blocks * n * 64, alignment: 64)
            .bindMemory(to: Float.self, capacity: blocks * n * 16)
        let padded = (n + 15) / 16 * 16
        threshold = .allocate(capacity: padded)
        threshold.initialize(repeating: .infinity, count: n)
        (threshold + n).initialize(repeating: -1, count: padded - n)
        centre = .allocate(capacity: dp)
        centre.initialize(repeating: 0, count: dp)

        // y = (x - mu) V in row chunks, scattered into the block layout; R = max ||x - mu||.
        let axes = PrincipalAxes(x, n: n, d: d, width: dp)
        let chunk = 4096
        let out = UnsafeMutablePointer<Float>.allocate(capacity: min(n, chunk) * dp)
        defer { out.deallocate() }
        var r: Float = 0
        var lo = 0
        while lo < n {
            let rows = min(chunk, n - lo)
            r = max(r, axes.rotate(x + lo * d, rows: rows, into: out))
            for i in 0..<rows {
                for b in 0..<blocks { (y + (b * n + lo + i) * 16).update(from: out + i * dp + b * 16, count: 16) }
            }
            lo += rows
        }
        absError = axes.roundingBound(maxCentredNorm: r)
        let y = self.y, n = self.n
        codes = Int8BoundCodes(count: n, width: dp) { i, l in y[((l / 16) * n + i) * 16 + l % 16] }
        centreCode = .allocate(capacity: codes.groups * 4)
        centreCode.initialize(repeating: 0, count: codes.groups * 4)
    }

    func deallocate() {
        UnsafeMutableRawPointer(y).deallocate(); threshold.deallocate(); centre.deallocate()
        centreCode.deallocate()
    }

    /// Points of the blocks [firstBlock, endBlock) (16 points each) that the int8 bound cannot rule out for the
    /// current centre, in index order, written to `out`; returns how many.
    func survivors(blocks firstBlock: Int, _ endBlock: Int, into out: UnsafeMutablePointer<Int32>) -> Int {
        codes.survivors(centre: centreCode, threshold: threshold, perPoint: true, blocks: firstBlock, endBlock, into: out)
    }

    /// T_i from the current delta_i (see the type's comment).
    @inline(__always)
    func setThreshold(_ i: Int, delta: Float) {
        if delta < 0 { threshold[i] = -1; return }
        let a = delta.squareRoot() * 1.0001 + absError
        threshold[i] = a * a * 1.0002
    }

    /// Copies point p's rotated coordinates as the current centre.
    func loadCentre(_ p: Int) {
        for b in 0..<blocks { (centre + b * 16).update(from: y + (b * n + p) * 16, count: 16) }
        codes.code(of: p, into: centreCode)
    }

    /// True when ||x_i - c||^2 >= delta_i is certain from the rotated coordinates (see the type's comment).
    @inline(__always)
    func canSkip(_ i: Int) -> Bool {
        let t = threshold[i]
        var partial: Float = 0
        let raw = UnsafeRawPointer(y), rawC = UnsafeRawPointer(centre)
        for b in 0..<blocks {
            let va = raw.loadUnaligned(fromByteOffset: (b * n + i) * 64, as: SIMD16<Float>.self)
            let vc = rawC.loadUnaligned(fromByteOffset: b * 64, as: SIMD16<Float>.self)
            let diff = va - vc
            partial += laneSum(diff * diff)
            if partial > t { return true }
        }
        return false
    }
}
