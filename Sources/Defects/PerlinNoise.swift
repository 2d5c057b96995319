import Foundation
import TensorCore

/// 2-D gradient noise (Perlin's lattice of random unit gradients with the quintic fade 6t^5 - 15t^4 + 10t^3),
/// summed over octaves. Written from the algorithm, in the spirit of DRAEM's Perlin anomaly masks (Zavrtanik et al.,
/// ICCV 2021, which threshold `rand_perlin_2d` noise at lattice resolutions 2^0...2^5 to get blob-shaped regions).
///
/// Notation: a lattice of `cellsX` x `cellsY` cells spans the image; g(i, j) is the unit gradient at lattice corner
/// (i, j); a pixel at lattice coordinate (u, v) = ((x + 0.5) / W * cellsX, (y + 0.5) / H * cellsY) gets
/// n = lerp_v(lerp_u(g00.d00, g10.d10), lerp_u(g01.d01, g11.d11)) with d the offsets to the four corners and the
/// lerp weights faded. Values lie in [-sqrt(1/2), sqrt(1/2)] for one octave.
///
/// ```swift
/// var rng = SplitMix64(seed: 7)
/// let noise = PerlinNoise(cellsX: 4, cellsY: 8, rng: &rng)
/// let values = noise.render(width: 256, height: 256)          // (H, W) row-major
/// let fractal = PerlinNoise.fractal(width: 256, height: 256, cellsX: 2, cellsY: 2, octaves: 4, rng: &rng)
/// ```
public struct PerlinNoise: Sendable, Equatable {
    public let cellsX: Int
    public let cellsY: Int
    /// Gradient components at the (cellsY + 1) x (cellsX + 1) lattice corners, row-major.
    let gx: [Float]
    let gy: [Float]

    /// Draws the corner gradients (angle uniform in [0, 2 pi)) from `rng`. Cell counts below 1 are raised to 1.
    public init(cellsX: Int, cellsY: Int, rng: inout SplitMix64) {
        self.cellsX = max(1, cellsX)
        self.cellsY = max(1, cellsY)
        let n = (self.cellsX + 1) * (self.cellsY + 1)
        var gx = [Float](repeating: 0, count: n), gy = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let angle = 2 * Double.pi * rng.nextUnit()
            gx[i] = Float(cos(angle)); gy[i] = Float(sin(angle))
        }
        self.gx = gx
        self.gy = gy
    }

    @inline(__always)
    static func fade(_ t: Float) -> Float { t * t * t * (t * (t * 6 - 15) + 10) }

    /// Noise at lattice coordinate (u, v), u in [0, cellsX], v in [0, cellsY].
    public func value(u: Float, v: Float) -> Float {
        let i = min(Int(u), cellsX - 1), j = min(Int(v), cellsY - 1)
        let fu = u - Float(i), fv = v - Float(j)
        let stride = cellsX + 1
        let c00 = j * stride + i, c10 = c00 + 1, c01 = c00 + stride, c11 = c01 + 1
        let n00 = gx[c00] * fu + gy[c00] * fv
        let n10 = gx[c10] * (fu - 1) + gy[c10] * fv
        let n01 = gx[c01] * fu + gy[c01] * (fv - 1)
        let n11 = gx[c11] * (fu - 1) + gy[c11] * (fv - 1)
        let wu = PerlinNoise.fade(fu), wv = PerlinNoise.fade(fv)
        let top = n00 + wu * (n10 - n00), bottom = n01 + wu * (n11 - n01)
        return top + wv * (bottom - top)
    }

    /// The noise sampled at the pixel centres of a `width` x `height` image: (H, W) row-major.
    public func render(width: Int, height: Int) -> [Float] {
        var out = [Float](repeating: 0, count: max(0, width) * max(0, height))
        let su = Float(cellsX) / Float(max(width, 1)), sv = Float(cellsY) / Float(max(height, 1))
        for y in 0..<max(0, height) {
            let v = (Float(y) + 0.5) * sv
            for x in 0..<max(0, width) { out[y * width + x] = value(u: (Float(x) + 0.5) * su, v: v) }
        }
        return out
    }

    /// Sum of `octaves` noises, octave k with 2^k times the cells and amplitude `persistence`^k: (H, W) row-major.
    /// The octaves' gradients are drawn from `rng` in order.
    public static func fractal(width: Int, height: Int, cellsX: Int, cellsY: Int, octaves: Int = 1,
                               persistence: Float = 0.5, rng: inout SplitMix64) -> [Float] {
        var out = [Float](repeating: 0, count: max(0, width) * max(0, height))
        var amplitude: Float = 1
        for k in 0..<max(1, octaves) {
            let layer = PerlinNoise(cellsX: cellsX << k, cellsY: cellsY << k, rng: &rng).render(width: width, height: height)
            for i in out.indices { out[i] += amplitude * layer[i] }
            amplitude *= persistence
        }
        return out
    }
}
