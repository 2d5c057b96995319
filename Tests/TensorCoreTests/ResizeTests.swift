import Foundation
import Testing
import Checkpoints
@testable import TensorCore

/// Tensors and case list of Fixtures/resize_blur.safetensors (scripts/make_scoring_fixtures.py).
struct ResizeBlurFixture {
    let tensors: [String: Tensor]
    let cases: [String: [[String: Any]]]

    static func load() throws -> ResizeBlurFixture {
        let url = try #require(Bundle.module.url(forResource: "resize_blur", withExtension: "safetensors", subdirectory: "Fixtures"))
        let contents = try SafeTensors.read(url)
        let json = try #require(contents.metadata["cases"]?.data(using: .utf8))
        let cases = try #require(try JSONSerialization.jsonObject(with: json) as? [String: [[String: Any]]])
        return ResizeBlurFixture(tensors: contents.tensors, cases: cases)
    }

    func tensor(_ name: String) throws -> Tensor { try #require(tensors[name], "fixture tensor \(name) missing") }
}

/// Largest absolute difference and largest difference relative to max(|expected|, 1).
func maxDifferences(_ actual: Tensor, _ expected: Tensor) -> (abs: Float, rel: Float) {
    var a: Float = 0, r: Float = 0
    for (x, y) in zip(actual.scalars, expected.scalars) {
        let d = abs(x - y)
        a = max(a, d)
        r = max(r, d / max(abs(y), 1))
    }
    return (a, r)
}

/// Deterministic generator for randomised tests (SplitMix64).
struct SplitMixGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomTensor(_ shape: [Int], using rng: inout SplitMixGenerator) -> Tensor {
    Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
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
            let (a, r) = maxDifferences(y, expected)
            print("resizeBilinear \(name) \(x.shape) -> \(expected.shape): max abs \(a), max rel \(r)")
            #expect(r < 1e-4)
            let naive = resizeBilinearNaive(x, height: h, width: w)
            #expect(maxDifferences(naive, expected).rel < 1e-4)
        }
    }

    @Test func fastMatchesNaiveOnRandomShapes() {
        var rng = SplitMixGenerator(seed: 7)
        for _ in 0..<25 {
            let shape = [Int.random(in: 1...2, using: &rng), Int.random(in: 1...3, using: &rng),
                         Int.random(in: 1...17, using: &rng), Int.random(in: 1...17, using: &rng)]
            let (h, w) = (Int.random(in: 1...40, using: &rng), Int.random(in: 1...40, using: &rng))
            let x = randomTensor(shape, using: &rng)
            let fast = resizeBilinear(x, height: h, width: w), naive = resizeBilinearNaive(x, height: h, width: w)
            #expect(fast.shape == [shape[0], shape[1], h, w])
            #expect(maxDifferences(fast, naive).abs < 1e-5, "shape \(shape) -> \(h)x\(w)")
        }
    }

    @Test func sameSizeIsIdentityAndConstantsStayConstant() {
        var rng = SplitMixGenerator(seed: 3)
        let x = randomTensor([1, 2, 5, 6], using: &rng)
        #expect(resizeBilinear(x, height: 5, width: 6) == x)
        let c = Tensor(repeating: 2.5, shape: [1, 1, 4, 7])
        #expect(resizeBilinear(c, height: 13, width: 3).scalars.allSatisfy { abs($0 - 2.5) < 1e-6 })
    }
}
