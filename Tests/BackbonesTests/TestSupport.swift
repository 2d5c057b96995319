import Foundation
import Testing
import Checkpoints
import TensorCore
@testable import Backbones

/// Shared helpers for the backbone tests.
enum Support {
    static func fixture(_ name: String) throws -> SafeTensors.Contents {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures"),
                               "missing fixture \(name).safetensors; run python3 scripts/make_backbone_fixtures.py")
        return try SafeTensors.read(url)
    }

    /// max |a - b| / max |b|.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> (abs: Float, rel: Float) {
        var maxDiff: Float = 0, maxRef: Float = 0
        for i in 0..<b.count {
            maxDiff = max(maxDiff, abs(a.scalars[i] - b.scalars[i]))
            maxRef = max(maxRef, abs(b.scalars[i]))
        }
        return (maxDiff, maxRef > 0 ? maxDiff / maxRef : maxDiff)
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
