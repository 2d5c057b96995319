import Foundation

/// Procedural, seeded industrial surfaces for the demo data set. Values are gray levels in [0, 1],
/// row-major (H, W); colour is added later by a per-texture tint.
public enum DemoTexture: String, Sendable, Codable, CaseIterable {
    /// Horizontal streaks of varying brightness with fine grain, a soft lighting gradient.
    case brushedMetal = "brushed_metal"
    /// A regular over/under weave of threads with small jitter in thread brightness.
    case woven
    /// Multi-octave value noise with fine grain, like cast or sand-blasted material.
    case fineNoise = "fine_noise"

    /// RGB multipliers applied to the gray surface.
    var tint: (Double, Double, Double) {
        switch self {
        case .brushedMetal: return (0.97, 1.0, 1.04)
        case .woven: return (1.08, 0.98, 0.82)
        case .fineNoise: return (1.0, 0.98, 0.95)
        }
    }

    /// A surface of `size x size` gray values; each call with a different generator state varies
    /// the phase, streak pattern and grain, like different parts from one production line.
    func render(size n: Int, rng: inout SeededRandom) -> [Double] {
        var g = [Double](repeating: 0, count: n * n)
        switch self {
        case .brushedMetal:
            // per-row brightness, smoothed over 3 rows; per-pixel grain smoothed along x (brushing direction)
            var raw = [Double](repeating: 0, count: n)
            for y in 0..<n { raw[y] = 0.05 * rng.normal() }
            var rows = [Double](repeating: 0, count: n)
            for y in 0..<n {
                let sum: Double = raw[max(0, y - 1)] + raw[y] + raw[min(n - 1, y + 1)]
                rows[y] = sum / 3
            }
            let base = rng.uniform(in: 0.5..<0.6)
            let tilt = rng.uniform(in: -0.06..<0.06)
            let run = 9
            for y in 0..<n {
                var grain = [Double](repeating: 0, count: n + run)
                for i in 0..<(n + run) { grain[i] = rng.normal() }
                var acc = 0.0
                for i in 0..<run { acc += grain[i] }
                for x in 0..<n {
                    let light = tilt * (Double(x) / Double(n) - 0.5)
                    g[y * n + x] = base + rows[y] + light + 0.025 * acc / Double(run).squareRoot()
                    acc += grain[x + run] - grain[x]
                }
            }
        case .woven:
            let period = Double(rng.int(in: 10...14))
            let phx = rng.uniform(in: 0..<period), phy = rng.uniform(in: 0..<period)
            let cells = n / Int(period) + 3
            var threadShade = [Double](repeating: 0, count: cells * cells)
            for i in 0..<(cells * cells) { threadShade[i] = 0.03 * rng.normal() }
            for y in 0..<n {
                for x in 0..<n {
                    let u = (Double(x) + phx) / period, v = (Double(y) + phy) / period
                    let cx = Int(u.rounded(.down)), cy = Int(v.rounded(.down))
                    let fu = u - Double(cx), fv = v - Double(cy)
                    // alternate which thread is on top; each thread is brightest along its centre line
                    let horizontalOnTop = (cx + cy) % 2 == 0
                    let profile = horizontalOnTop ? Foundation.sin(Double.pi * fv) : Foundation.sin(Double.pi * fu)
                    let shade = threadShade[(cy % cells) * cells + (cx % cells)]
                    g[y * n + x] = 0.38 + 0.28 * profile + shade + 0.02 * rng.normal()
                }
            }
        case .fineNoise:
            let base = rng.uniform(in: 0.45..<0.55)
            for (cell, amp) in [(32, 0.08), (12, 0.05), (5, 0.035)] {
                let m = n / cell + 2
                var lattice = [Double](repeating: 0, count: m * m)
                for i in 0..<(m * m) { lattice[i] = rng.normal() }
                for y in 0..<n {
                    let v = Double(y) / Double(cell)
                    let iy = Int(v), fy = v - Double(iy)
                    let sy = fy * fy * (3 - 2 * fy)
                    for x in 0..<n {
                        let u = Double(x) / Double(cell)
                        let ix = Int(u), fx = u - Double(ix)
                        let sx = fx * fx * (3 - 2 * fx)
                        let a = lattice[iy * m + ix], b = lattice[iy * m + ix + 1]
                        let c = lattice[(iy + 1) * m + ix], d = lattice[(iy + 1) * m + ix + 1]
                        g[y * n + x] += amp * ((a * (1 - sx) + b * sx) * (1 - sy) + (c * (1 - sx) + d * sx) * sy)
                    }
                }
            }
            for i in 0..<(n * n) { g[i] += base + 0.02 * rng.normal() }
        }
        return g
    }
}
