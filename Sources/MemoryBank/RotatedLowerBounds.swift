import CVectorMath
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
/// A pass over every point (`survivors`) first reads a smaller copy: the first 32 rotated coordinates (all of
/// them when d' < 32) as int8 codes in groups of 4, q = round(y / s_g) with s_g = max |y| / 127 over the group's
/// coordinates, so 32 bytes a point, which for the banks of a fit (Magnetic Tile: 550k rows, 17.6 MB) mostly stay
/// in the L3 cache between picks where y does not. Every code is within s_g / 2 of its value (checked when the
/// codes are made, allowing 3e-5 s_g of rounding), centres are points with codes too, so for e = max(0,
/// |q_il - q_cl| - 1) (the byte difference saturated, which only lowers it)
///     (s_g (1 - 2e-4))^2 e^2 <= (y_il - y_cl)^2,
/// and the sum over the coded coordinates is a lower bound on ||x_i - c||^2 whose float rounding the factors
/// of T_i absorb: a point whose code bound exceeds T_i is one the float bound would skip too. The survivors
/// then go through `canSkip` and the exact distance as before. The scan is `pc_int8_bound_survivors` in
/// CVectorMath (AVX-512 VNNI where the CPU has it: one VPDPBUSD per 16 points and 4 coordinates).
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
    /// N rounded up to whole blocks of 16 points; the padding points have T = -1 and are never survivors.
    let paddedCount: Int
    /// Groups of 4 coded coordinates (at most 8: 32 coordinates).
    let codeGroups: Int
    let codes: UnsafeMutablePointer<Int8>               // (N'/16, groups, 16, 4): block, group, point, coordinate
    let codeWeight: UnsafeMutablePointer<Float>         // (groups) (s_g (1 - 2e-4))^2, or 0 if a check failed
    let centreCode: UnsafeMutablePointer<Int8>          // (groups * 4) codes of the current centre

    init(_ x: UnsafePointer<Float>, n: Int, d: Int) {
        self.n = n; self.d = d
        blocks = min((d + 15) / 16, RotatedLowerBounds.maxBlocks)
        let dp = blocks * 16
        y = UnsafeMutableRawPointer.allocate(byteCount: blocks * n * 64, alignment: 64)
            .bindMemory(to: Float.self, capacity: blocks * n * 16)
        paddedCount = (n + 15) / 16 * 16
        threshold = .allocate(capacity: paddedCount)
        threshold.initialize(repeating: .infinity, count: n)
        (threshold + n).initialize(repeating: -1, count: paddedCount - n)
        codeGroups = min(blocks * 16, 32) / 4
        codes = .allocate(capacity: paddedCount * codeGroups * 4)
        codes.initialize(repeating: 0, count: paddedCount * codeGroups * 4)
        codeWeight = .allocate(capacity: codeGroups)
        centreCode = .allocate(capacity: codeGroups * 4)
        centreCode.initialize(repeating: 0, count: codeGroups * 4)
        centre = .allocate(capacity: dp)
        centre.initialize(repeating: 0, count: dp)

        // mu (d) in Double; principal axes of a sample of at most ~16k rows.
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
        var v = [Float](repeating: 0, count: d * dp)        // V (d, d'), padding columns zero
        for a in 0..<d { for b in 0..<min(d, dp) { v[a * dp + b] = Float(vectors[a * d + b]) } }
        let meanF = mean.map { Float($0) }

        // y = (x - mu) V, in row chunks of 4096 through sgemm, scattered into the block layout; R = max ||x - mu||.
        let chunk = 4096
        let chunks = (n + chunk - 1) / chunk
        var rmax = [Float](repeating: 0, count: chunks)
        let y = self.y, blocks = self.blocks
        rmax.withUnsafeMutableBufferPointer { rb in
            v.withUnsafeBufferPointer { vb in
                meanF.withUnsafeBufferPointer { mb in
                    // Chunks run one after another: sgemm itself uses the BLAS threads (`ComputeThreads`).
                    for c in 0..<chunks {
                        let lo = c * chunk, rows = min(chunk, n - lo)
                        let centred = UnsafeMutablePointer<Float>.allocate(capacity: rows * d)
                        let out = UnsafeMutablePointer<Float>.allocate(capacity: rows * dp)
                        defer { centred.deallocate(); out.deallocate() }
                        var r: Float = 0
                        for i in 0..<rows {
                            var s: Float = 0
                            for l in 0..<d {
                                let e = x[(lo + i) * d + l] - mb[l]
                                centred[i * d + l] = e; s += e * e
                            }
                            r = max(r, s)
                        }
                        rb[c] = r.squareRoot()
                        sgemm(m: rows, n: dp, k: d, a: centred, lda: d, b: vb.baseAddress!, ldb: dp, c: out, ldc: dp)
                        for i in 0..<rows {
                            for b in 0..<blocks {
                                (y + (b * n + lo + i) * 16).update(from: out + i * dp + b * 16, count: 16)
                            }
                        }
                    }
                }
            }
        }
        let r = rmax.max() ?? 0
        let u = Float(1.0 / 16_777_216.0)
        absError = 4 * Float(dp).squareRoot() * Float(d + 4) * u * r * 1.01
        encodeCodes()
    }

    /// int8 codes of y's first 4 * `codeGroups` coordinates and their weights (see the type's comment).
    private func encodeCodes() {
        for g in 0..<codeGroups {
            var maxAbs: Float = 0
            for l in (4 * g)..<(4 * g + 4) {
                let b = l / 16, k = l % 16
                for i in 0..<n { maxAbs = max(maxAbs, abs(y[(b * n + i) * 16 + k])) }
            }
            let scale = maxAbs > 0 ? maxAbs / 127 : 1
            var worst: Float = 0
            for l in (4 * g)..<(4 * g + 4) {
                let b = l / 16, k = l % 16, j = l % 4
                for i in 0..<n {
                    let v = y[(b * n + i) * 16 + k]
                    let q = max(-127, min(127, (v / scale).rounded()))
                    codes[((i / 16) * codeGroups + g) * 64 + (i % 16) * 4 + j] = Int8(q)
                    worst = max(worst, abs(v - q * scale))
                }
            }
            let lowered = scale * (1 - 2e-4)
            codeWeight[g] = worst <= scale / 2 * (1 + 4e-5) ? lowered * lowered : 0
        }
    }

    func deallocate() {
        UnsafeMutableRawPointer(y).deallocate(); threshold.deallocate(); centre.deallocate()
        codes.deallocate(); codeWeight.deallocate(); centreCode.deallocate()
    }

    /// Points of the blocks [firstBlock, endBlock) (16 points each) that the int8 bound cannot rule out for the
    /// current centre, in index order, written to `out`; returns how many.
    func survivors(blocks firstBlock: Int, _ endBlock: Int, into out: UnsafeMutablePointer<Int32>) -> Int {
        pc_int8_bound_survivors(codes, codeGroups, centreCode, codeWeight, threshold, firstBlock, endBlock, out)
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
        for g in 0..<codeGroups {
            (centreCode + g * 4).update(from: codes + ((p / 16) * codeGroups + g) * 64 + (p % 16) * 4, count: 4)
        }
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
