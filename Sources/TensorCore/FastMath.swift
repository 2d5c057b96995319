import CVectorMath
import Foundation

// Vectorised exp / erf for the elementwise work around the GEMMs (softmax, SiLU / GELU epilogues, GEGLU): glibc's
// scalar expf / erff are too slow for SD's 4096-token attention maps (16.8M scores per head);
// see bench/DESIGN_NOTES.md#vector-math.

/// e^x with Cephes expf's range reduction and degree-6 polynomial (relative error about 1e-7 for x in [-87, 88];
/// below -87.33 the result is 0). Branch-free, so loops over it vectorise.
///
/// ```swift
/// let y = fastExp(-1.5)   // 0.22313016
/// ```
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let v = expOfClamped(Swift.min(Swift.max(x, -87.33), 88.7))
    return x < -87.33 ? 0 : v
}

/// e^c for c in [-87.33, 88.7], the caller having clamped it: Cephes' range reduction and polynomial.
@inline(__always)
func expOfClamped(_ c: Float) -> Float {
    // Adding 1.5 * 2^23 rounds c / ln 2 to the nearest integer n and leaves n in the low mantissa bits.
    let shifted = c * 1.44269504088896341 + 12582912
    let n = shifted - 12582912
    var r = c - n * 0.693359375         // ln 2 in two parts: 0.693359375 - 2.12194440e-4
    r = r - n * -2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * (r * r) + r + 1
    let bits = (Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000 &+ 127) &<< 23   // 2^n
    return y * Float(bitPattern: UInt32(bitPattern: bits))
}

/// e^x for x <= 0 (softmax after subtracting the row maximum): fastExp without the upper clamp and the flush to
/// zero; inputs below -87.33 (and -inf) give about 1.2e-38 instead of 0, which no softmax sum can notice.
/// The scalar statement of what CVectorMath's `pc_exp_shifted_row` computes per element (tested against libm).
@inline(__always)
func fastExpNonPositive(_ x: Float) -> Float {
    expOfClamped(Swift.max(x, -87.33))
}

/// erf(x): Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7) with fastExp.
///
/// ```swift
/// let y = fastErf(0.5)   // 0.5204999
/// ```
@inline(__always)
public func fastErf(_ x: Float) -> Float {
    let a = Swift.abs(x)
    let t = 1 / (1 + 0.3275911 * a)
    var p: Float = 1.061405429
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let y = 1 - p * t * fastExp(-(a * a))
    return x < 0 ? -y : y
}

/// The unnormalised half of a softmax: p[j] = exp(p[j] - max) in place; returns 1 / sum (0 for a row of -inf),
/// so the caller can apply the normalisation to a smaller product (attention scales P V's rows instead of P).
/// Runs CVectorMath's kernel at the CPU's widest vector width (fastExp's polynomial).
@inline(__always)
func fastExpShiftedRow(_ p: UnsafeMutablePointer<Float>, count: Int) -> Float {
    pc_exp_shifted_row(p, count)
}

/// out[i] = a[i] * gelu(g[i]) for `count` floats, exact GELU 0.5 g (1 + erf(g / sqrt 2)) with fastErf's formula
/// (diffusers' GEGLU: hidden * F.gelu(gate)), in CVectorMath at the CPU's widest vector width.
///
/// ```swift
/// gatedGELU(hidden, gate, out, count: 1280)   // out = hidden * gelu(gate)
/// ```
@inline(__always)
public func gatedGELU(_ a: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
    pc_gated_gelu(a, g, out, count)
}

/// The SIMD level CVectorMath's kernels run at on this CPU: "avx512", "avx2" or "baseline" (benchmarks record it).
public var vectorMathLevel: String { ["baseline", "avx2", "avx512"][Int(pc_vector_level())] }

/// Runs `body` with CVectorMath capped at `level` (0 baseline, 1 AVX2 + FMA, 2 AVX-512; clamped to the CPU), so
/// tests can check every instantiation; returns the level that was in effect. Not for use while other threads compute.
@discardableResult
func withVectorMathLevel(_ level: Int, _ body: () throws -> Void) rethrows -> Int {
    let effective = Int(pc_limit_vector_level(Int32(level)))
    defer { pc_limit_vector_level(-1) }
    try body()
    return effective
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
@inline(__always)
func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self) }
