import Foundation
import Testing
import Checkpoints
import TensorCore
import TestSupport

/// Tensors and case list of Fixtures/scoring.safetensors (scripts/make_scoring_fixtures.py).
struct ScoringFixture {
    let tensors: [String: Tensor]
    let cases: [String: [[String: Any]]]

    static func load() throws -> ScoringFixture {
        let contents = try FixtureFolder(bundle: .module).safetensors("scoring.safetensors")
        let json = try #require(contents.metadata["cases"]?.data(using: .utf8))
        let cases = try #require(try JSONSerialization.jsonObject(with: json) as? [String: [[String: Any]]])
        return ScoringFixture(tensors: contents.tensors, cases: cases)
    }

    func tensor(_ name: String) throws -> Tensor { try #require(tensors[name], "fixture tensor \(name) missing") }
}

/// Largest absolute difference and largest difference relative to 1 + |expected|: TestSupport's `pointwiseError`
/// under the name these suites call.
func scoringMaxDifferences(_ actual: [Float], _ expected: [Float]) -> (abs: Float, rel: Float) {
    pointwiseError(actual, expected)
}

typealias ScoringRNG = SplitMix64

extension SplitMix64 {
    mutating func tensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &self) })
    }
}
