import Foundation
import Testing
import ImageIO
import TensorCore
@testable import Defects

@Suite struct PerlinNoiseTests {
    @Test func sameSeedSameNoiseAndLatticeCornersAreZero() {
        var a = SplitMix64(seed: 11), b = SplitMix64(seed: 11), c = SplitMix64(seed: 12)
        let na = PerlinNoise(cellsX: 4, cellsY: 3, rng: &a), nb = PerlinNoise(cellsX: 4, cellsY: 3, rng: &b)
        let nc = PerlinNoise(cellsX: 4, cellsY: 3, rng: &c)
        #expect(na == nb)
        #expect(na.render(width: 40, height: 30) != nc.render(width: 40, height: 30))
        // Gradient noise vanishes at every lattice corner.
        for i in 0...4 { for j in 0...3 { #expect(na.value(u: Float(i), v: Float(j)) == 0) } }
    }

    @Test func oneOctaveStaysInItsBoundAndIsSmooth() {
        var rng = SplitMix64(seed: 3)
        let w = 128, h = 96
        let v = PerlinNoise(cellsX: 4, cellsY: 4, rng: &rng).render(width: w, height: h)
        let bound = Float(0.5).squareRoot() + 1e-5
        #expect(v.allSatisfy { abs($0) <= bound })
        let spread = v.max()! - v.min()!
        #expect(spread > 0.3, "noise too flat: spread \(spread)")
        // Neighbouring pixels differ little compared with the spread (cells are 32 x 24 pixels).
        var maxStep: Float = 0
        for y in 0..<h { for x in 1..<w { maxStep = max(maxStep, abs(v[y * w + x] - v[y * w + x - 1])) } }
        print("perlin: spread \(spread), max neighbour step \(maxStep)")
        #expect(maxStep < spread / 10)
    }

    @Test func fractalAddsFinerOctaves() {
        var a = SplitMix64(seed: 5), b = SplitMix64(seed: 5)
        let one = PerlinNoise.fractal(width: 64, height: 64, cellsX: 2, cellsY: 2, octaves: 1, rng: &a)
        let four = PerlinNoise.fractal(width: 64, height: 64, cellsX: 2, cellsY: 2, octaves: 4, rng: &b)
        // The first octave draws the same gradients, so the difference is the finer octaves only (amplitude <= 0.5 + 0.25 + 0.125).
        let diff = zip(one, four).map { abs($0 - $1) }.max()!
        #expect(diff > 0.01 && diff <= 0.875 * Float(0.5).squareRoot() + 1e-4)
    }

    @Test func perlinMasksAreOneNonEmptyBlobWithinAreaBounds() {
        let options = PerlinMaskOptions(minAreaFraction: 0.01, maxAreaFraction: 0.1)
        var blobs = 0
        for seed in UInt64(0)..<24 {
            let w = 80, h = 64
            let mask = PerlinMask.draw(width: w, height: h, seed: seed, options: options)
            #expect(mask.channels == 1 && mask.width == w && mask.height == h)
            #expect(mask.pixels.allSatisfy { $0 == 0 || $0 == 255 })
            let area = mask.pixels.filter { $0 == 255 }.count
            let fraction = Double(area) / Double(w * h)
            #expect(fraction >= 0.01 && fraction <= 0.1 + 1.0 / Double(w * h), "seed \(seed): area fraction \(fraction)")
            if DefectRegionMap(mask: mask).regions.count == 1 { blobs += 1 }
            #expect(PerlinMask.draw(width: w, height: h, seed: seed, options: options) == mask)
        }
        print("perlin masks: \(blobs)/24 single blobs")
        #expect(blobs >= 20)
    }
}
