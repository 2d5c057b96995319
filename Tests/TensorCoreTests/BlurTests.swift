import Foundation
import Testing
import TestSupport
@testable import TensorCore

@Suite struct BlurTests {
    @Test func matchesScipyGaussianFilter() throws {
        let fixture = try ResizeBlurFixture.load()
        let cases = try #require(fixture.cases["blur"])
        #expect(cases.count >= 4)
        for c in cases {
            let name = c["name"] as! String, sigma = c["sigma"] as! Double
            let x = try fixture.tensor(name + "_x"), expected = try fixture.tensor(name + "_y")
            let y = gaussianBlur(x, sigma: sigma)
            #expect(y.shape == expected.shape)
            let (a, r) = pointwiseError(y, expected)
            print("gaussianBlur \(name) \(x.shape) sigma \(sigma): max abs \(a), max rel \(r)")
            #expect(r < 1e-4)
        }
    }

    @Test func fastMatchesNaiveOnRandomShapes() {
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<12 {
            let shape = [Int.random(in: 1...2, using: &rng), Int.random(in: 1...20, using: &rng), Int.random(in: 1...20, using: &rng)]
            let sigma = Double.random(in: 0.5...4, using: &rng)
            let x = randomTensor(shape, using: &rng)
            let d = pointwiseError(gaussianBlur(x, sigma: sigma), gaussianBlurNaive(x, sigma: sigma))
            #expect(d.abs < 1e-5, "shape \(shape) sigma \(sigma)")
        }
    }

    @Test func kernelAndReflectionFollowScipy() {
        let k = gaussianKernel1d(sigma: 4)
        #expect(k.count == 17)   // radius int(4 * 4 + 0.5) = 16
        #expect(abs(k[0] + 2 * k.dropFirst().reduce(0, +) - 1) < 1e-6)
        // 'reflect': d c b a | a b c d | d c b a
        #expect((-4..<8).map { reflectIndex($0, 4) } == [3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0])
        // The blur preserves a constant map.
        let c = gaussianBlur(Tensor(repeating: 3, shape: [5, 9]), sigma: 4)
        #expect(c.scalars.allSatisfy { abs($0 - 3) < 1e-5 })
    }
}
