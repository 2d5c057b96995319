import Foundation
import Testing
import Checkpoints
import TensorCore
import TestSupport
@testable import Backbones

/// Shared helpers for the backbone tests.
enum Support {
    static let fixtures = FixtureFolder(bundle: .module)

    /// Fixtures/<name>.safetensors, written by scripts/make_backbone_fixtures.py.
    static func fixture(_ name: String) throws -> SafeTensors.Contents {
        try fixtures.safetensors("\(name).safetensors")
    }

    /// Checks every tap against the reference, printing the differences.
    static func expectClose(_ got: [String: Tensor], _ reference: [String: Tensor], taps: [String], label: String,
                            tolerance: Float = 1e-4) throws {
        for tap in taps {
            let g = try #require(got[tap], "\(label): tap \(tap) not returned")
            let r = try #require(reference[tap], "\(label): fixture lacks \(tap)")
            #expect(g.shape == r.shape, "\(label) \(tap): shape \(g.shape) vs reference \(r.shape)")
            guard g.shape == r.shape else { continue }
            let (a, rel) = relativeError(g, r)
            print("\(label) \(tap) \(g.shape): max abs diff \(a), rel \(rel)")
            #expect(rel <= tolerance, "\(label) \(tap): relative error \(rel) > \(tolerance)")
        }
    }

    /// Deterministic values in [-2, 2) for shape.
    static func input(_ shape: [Int], seed: UInt64) -> Tensor {
        let t = SyntheticWeights.tensor(name: "input", shape: shape, seed: seed)  // uniform(-0.1, 0.1)
        return Tensor(shape: shape, scalars: t.scalars.map { $0 * 20 })
    }
}
