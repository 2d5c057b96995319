import Foundation
import Testing
import Checkpoints
import TestSupport
@testable import TensorCore

/// Tensors and case list of Fixtures/resize_blur.safetensors (scripts/make_scoring_fixtures.py).
struct ResizeBlurFixture {
    let tensors: [String: Tensor]
    let cases: [String: [[String: Any]]]

    static func load() throws -> ResizeBlurFixture {
        let contents = try FixtureFolder(bundle: .module).safetensors("resize_blur.safetensors")
        let json = try #require(contents.metadata["cases"]?.data(using: .utf8))
        let cases = try #require(try JSONSerialization.jsonObject(with: json) as? [String: [[String: Any]]])
        return ResizeBlurFixture(tensors: contents.tensors, cases: cases)
    }

    func tensor(_ name: String) throws -> Tensor { try #require(tensors[name], "fixture tensor \(name) missing") }
}

@Suite struct ResizeTests {
    @Test func matchesTorchInterpolateBilinear() throws {
        let fixture = try ResizeBlurFixture.load()
        let cases = try #require(fixture.cases["resize"])
        #expect(cases.count >= 5)
        for c in cases {
            let name = c["name"] as! String, h = c["height"] as! Int, w = c["width"] as! Int
            let x = try fixture.tensor(name + "_x"), expected = try fixture.tensor(name + "_y")
            let y = resizeBilinear(x, height: h, width: w)
            #expect(y.shape == expected.shape)
            let (a, r) = pointwiseError(y, expected)
            print("resizeBilinear \(name) \(x.shape) -> \(expected.shape): max abs \(a), max rel \(r)")
            #expect(r < 1e-4)
            let naive = resizeBilinearNaive(x, height: h, width: w)
            #expect(pointwiseError(naive, expected).rel < 1e-4)
        }
    }

    @Test func fastMatchesNaiveOnRandomShapes() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<25 {
            let shape = [Int.random(in: 1...2, using: &rng), Int.random(in: 1...3, using: &rng),
                         Int.random(in: 1...17, using: &rng), Int.random(in: 1...17, using: &rng)]
            let (h, w) = (Int.random(in: 1...40, using: &rng), Int.random(in: 1...40, using: &rng))
            let x = randomTensor(shape, using: &rng)
            let fast = resizeBilinear(x, height: h, width: w), naive = resizeBilinearNaive(x, height: h, width: w)
            #expect(fast.shape == [shape[0], shape[1], h, w])
            #expect(pointwiseError(fast, naive).abs < 1e-5, "shape \(shape) -> \(h)x\(w)")
        }
    }

    @Test func sameSizeIsIdentityAndConstantsStayConstant() {
        var rng = SeededGenerator(seed: 3)
        let x = randomTensor([1, 2, 5, 6], using: &rng)
        #expect(resizeBilinear(x, height: 5, width: 6) == x)
        let c = Tensor(repeating: 2.5, shape: [1, 1, 4, 7])
        #expect(resizeBilinear(c, height: 13, width: 3).scalars.allSatisfy { abs($0 - 2.5) < 1e-6 })
    }
}
