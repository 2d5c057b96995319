import Foundation

/// Synthetic defect kinds of the demo data set. Each draws an exact binary mask and changes
/// only (and every one of) the masked pixels.
public enum DemoDefect: String, Sendable, Codable, CaseIterable {
    /// A thin curved line (quadratic Bezier), 1-3 px wide, brighter or darker than the surface.
    case scratch
    /// A blob with a wobbly outline, 6-16 px radius, darker or brighter.
    case spot
    /// A dark jagged line with one or two branches.
    case crack

    /// Draws the defect's mask (n x n, 255 = defect) for one image.
    func mask(size n: Int, rng: inout SeededRandom) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: n * n)
        let s = Double(n)
        switch self {
        case .scratch:
            let p0 = (rng.uniform(in: 0.15..<0.85) * s, rng.uniform(in: 0.15..<0.85) * s)
            let angle = rng.uniform(in: 0..<(2 * Double.pi))
            let length = rng.uniform(in: 0.25..<0.45) * s
            let p2 = (p0.0 + length * Foundation.cos(angle), p0.1 + length * Foundation.sin(angle))
            let bend = rng.uniform(in: -0.3..<0.3) * length
            let mid = ((p0.0 + p2.0) / 2 - bend * Foundation.sin(angle), (p0.1 + p2.1) / 2 + bend * Foundation.cos(angle))
            let radius = rng.uniform(in: 0.6..<1.4)
            let steps = Int(length * 3)
            for k in 0...steps {
                let t = Double(k) / Double(steps)
                let x = (1 - t) * (1 - t) * p0.0 + 2 * (1 - t) * t * mid.0 + t * t * p2.0
                let y = (1 - t) * (1 - t) * p0.1 + 2 * (1 - t) * t * mid.1 + t * t * p2.1
                DemoDefect.stamp(&m, n: n, x: x, y: y, radius: radius)
            }
        case .spot:
            let cx = rng.uniform(in: 0.2..<0.8) * s, cy = rng.uniform(in: 0.2..<0.8) * s
            let r0 = rng.uniform(in: 6..<16) * s / 224
            let lobes = Double(rng.int(in: 2...5)), phase = rng.uniform(in: 0..<(2 * Double.pi))
            let wobble = rng.uniform(in: 0.1..<0.3), squash = rng.uniform(in: 0.7..<1.0)
            let reach = Int((r0 * (1 + wobble)).rounded(.up)) + 1
            for y in max(0, Int(cy) - reach)...min(n - 1, Int(cy) + reach) {
                for x in max(0, Int(cx) - reach)...min(n - 1, Int(cx) + reach) {
                    let dx = Double(x) + 0.5 - cx, dy = (Double(y) + 0.5 - cy) / squash
                    let theta = Foundation.atan2(dy, dx)
                    if (dx * dx + dy * dy).squareRoot() <= r0 * (1 + wobble * Foundation.sin(lobes * theta + phase)) { m[y * n + x] = 255 }
                }
            }
        case .crack:
            let start = (rng.uniform(in: 0.2..<0.8) * s, rng.uniform(in: 0.2..<0.8) * s)
            let heading = rng.uniform(in: 0..<(2 * Double.pi))
            let steps = rng.int(in: 14...24)
            let vertices = DemoDefect.walk(&m, n: n, from: start, heading: heading, steps: steps, stepLength: 3.5 * s / 224, rng: &rng)
            let branchCount = rng.int(in: 1...2)
            for _ in 0..<branchCount {
                let (p, h) = vertices[rng.int(in: 1...(vertices.count - 1))]
                let turn = (rng.bool() ? 1.0 : -1.0) * rng.uniform(in: 0.5..<1.1)
                _ = DemoDefect.walk(&m, n: n, from: p, heading: h + turn, steps: steps / 2, stepLength: 3 * s / 224, rng: &rng)
            }
        }
        if !m.contains(255) {   // entirely clipped away (cannot happen with the ranges above): mark the centre
            DemoDefect.stamp(&m, n: n, x: s / 2, y: s / 2, radius: 2)
        }
        return m
    }

    /// Changes the surface under the mask: scratches and spots by +-(0.22...0.4) with a little texture kept,
    /// cracks darken by 0.35...0.5 (the sign of scratches/spots is chosen away from the nearer end of the
    /// gray range, so clipping rarely eats the change).
    func apply(to g: inout [Double], mask m: [UInt8], rng: inout SeededRandom) {
        // darken bright surfaces and brighten dark ones so the change is not lost to clipping
        var sum = 0.0, count = 0
        for i in 0..<g.count where m[i] != 0 { sum += g[i]; count += 1 }
        let mean = count > 0 ? sum / Double(count) : 0.5
        let coin: Double = rng.bool() ? 1 : -1
        let free: Double = mean > 0.6 ? -1 : (mean < 0.4 ? 1 : coin)
        let sign: Double
        let amount: Double
        switch self {
        case .scratch: sign = free; amount = rng.uniform(in: 0.25..<0.4)
        case .spot: sign = free; amount = rng.uniform(in: 0.22..<0.35)
        case .crack: sign = -1; amount = rng.uniform(in: 0.35..<0.5)
        }
        for i in 0..<g.count where m[i] != 0 {
            g[i] += sign * amount
        }
    }

    /// A filled disc of `radius` around (x, y) (pixel centres at +0.5).
    static func stamp(_ m: inout [UInt8], n: Int, x: Double, y: Double, radius r: Double) {
        let r2 = max(r * r, 0.5)
        let rr = Int(r.rounded(.up)) + 1
        let ix = Int(x.rounded(.down)), iy = Int(y.rounded(.down))
        for py in (iy - rr)...(iy + rr) where py >= 0 && py < n {
            for px in (ix - rr)...(ix + rr) where px >= 0 && px < n {
                let dx = Double(px) + 0.5 - x, dy = Double(py) + 0.5 - y
                if dx * dx + dy * dy <= r2 { m[py * n + px] = 255 }
            }
        }
    }

    /// A jagged polyline: each step turns by up to +-0.6 rad. Returns every vertex with its heading.
    @discardableResult
    static func walk(_ m: inout [UInt8], n: Int, from start: (Double, Double), heading h0: Double, steps: Int,
                     stepLength: Double, rng: inout SeededRandom) -> [((Double, Double), Double)] {
        var p = start, h = h0
        var vertices = [(p, h)]
        for _ in 0..<steps {
            h += rng.uniform(in: -0.6..<0.6)
            let q = (p.0 + stepLength * Foundation.cos(h), p.1 + stepLength * Foundation.sin(h))
            for k in 0...6 {
                let t = Double(k) / 6
                stamp(&m, n: n, x: p.0 + t * (q.0 - p.0), y: p.1 + t * (q.1 - p.1), radius: 0.75)
            }
            p = q
            vertices.append((p, h))
        }
        return vertices
    }
}
