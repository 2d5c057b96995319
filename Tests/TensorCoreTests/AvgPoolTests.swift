import Testing
import TestSupport
@testable import TensorCore

@Suite struct AvgPoolTests {
    @Test func matchesTorchAvgPool2d() throws {
        let fixture = try ResizeBlurFixture.load()
        let cases = try #require(fixture.cases["avgpool"])
        #expect(cases.count >= 4)
        for c in cases {
            let name = c["name"] as! String
            let (k, s, p) = (c["kernel"] as! Int, c["stride"] as! Int, c["padding"] as! Int)
            let include = c["count_include_pad"] as! Bool
            let x = try fixture.tensor(name + "_x"), expected = try fixture.tensor(name + "_y")
            let y = avgPool2d(x, kernel: k, stride: s, padding: p, countIncludePad: include)
            #expect(y.shape == expected.shape)
            let (a, r) = pointwiseError(y, expected)
            print("avgPool2d \(name) k\(k) s\(s) p\(p) include_pad \(include): max abs \(a), max rel \(r)")
            #expect(r < 1e-4)
            let naive = avgPool2dNaive(x, kernel: k, stride: s, padding: p, countIncludePad: include)
            #expect(pointwiseError(naive, expected).rel < 1e-4)
        }
    }

    @Test func fastMatchesNaiveOnRandomShapes() {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<30 {
            let k = Int.random(in: 1...5, using: &rng)
            let s = Int.random(in: 1...3, using: &rng), p = Int.random(in: 0...(k / 2), using: &rng)
            let shape = [Int.random(in: 1...2, using: &rng), Int.random(in: 1...3, using: &rng),
                         Int.random(in: k...14, using: &rng), Int.random(in: k...14, using: &rng)]
            let include = Bool.random(using: &rng)
            let x = randomTensor(shape, using: &rng)
            let fast = avgPool2d(x, kernel: k, stride: s, padding: p, countIncludePad: include)
            let naive = avgPool2dNaive(x, kernel: k, stride: s, padding: p, countIncludePad: include)
            #expect(fast.shape == naive.shape)
            #expect(pointwiseError(fast, naive).abs < 1e-5, "shape \(shape) k\(k) s\(s) p\(p) \(include)")
        }
    }

    @Test func patchCoreNeighbourhoodKeepsSizeAndZeroPadsEdges() {
        // 3x3, stride 1, padding 1 on a constant map: interior 1, edges 6/9, corners 4/9 (zeros counted).
        let y = avgPool2d(Tensor(repeating: 1, shape: [1, 1, 4, 5]), kernel: 3, stride: 1, padding: 1)
        #expect(y.shape == [1, 1, 4, 5])
        #expect(abs(y[0, 0, 1, 2] - 1) < 1e-6)
        #expect(abs(y[0, 0, 0, 2] - 6.0 / 9) < 1e-6)
        #expect(abs(y[0, 0, 0, 0] - 4.0 / 9) < 1e-6)
    }
}
