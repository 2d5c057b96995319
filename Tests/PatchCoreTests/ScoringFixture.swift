import Foundation
import Testing
import Checkpoints
import TensorCore

/// Tensors and case list of Fixtures/scoring.safetensors (scripts/make_scoring_fixtures.py).
struct ScoringFixture {
    let tensors: [String: Tensor]
    let cases: [String: [[String: Any]]]

    static func load() throws -> ScoringFixture {
        let url = try #require(Bundle.module.url(forResource: "scoring", withExtension: "safetensors", subdirectory: "Fixtures"))
        let contents = try SafeTensors.read(url)
        let json = try #require(contents.metadata["cases"]?.data(using: .utf8))
        let cases = try #require(try JSONSerialization.jsonObject(with: json) as? [String: [[String: Any]]])
        return ScoringFixture(tensors: contents.tensors, cases: cases)
    }

    func tensor(_ name: String) throws -> Tensor { try #require(tensors[name], "fixture tensor \(name) missing") }
}

/// Largest absolute difference and largest difference relative to max(|expected|, 1).
func scoringMaxDifferences(_ actual: [Float], _ expected: [Float]) -> (abs: Float, rel: Float) {
    var a: Float = 0, r: Float = 0
    for (x, y) in zip(actual, expected) {
        let d = abs(x - y)
        a = max(a, d)
        r = max(r, d / max(abs(y), 1))
    }
    return (a, r)
}

typealias ScoringRNG = SplitMix64

extension SplitMix64 {
    mutating func tensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &self) })
    }
}
