import Foundation
import Testing
@testable import TensorCore

/// Random-shape tests reproduce exactly with the seeded generator.
typealias SeededGenerator = SplitMix64

func randomTensor(_ shape: [Int], using rng: inout SeededGenerator, scale: Float = 1) -> Tensor {
    Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &rng) })
}

/// Largest |a - b| and largest |a - b| / (1 + |b|) over all elements (shapes must match).
func differences(_ a: Tensor, _ b: Tensor) -> (abs: Float, rel: Float) {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    var maxAbs: Float = 0, maxRel: Float = 0
    for i in 0..<a.count {
        let d = abs(a.scalars[i] - b.scalars[i])
        if d.isNaN { return (.nan, .nan) }
        maxAbs = max(maxAbs, d)
        maxRel = max(maxRel, d / (1 + abs(b.scalars[i])))
    }
    return (maxAbs, maxRel)
}
