import Foundation
import Testing
@testable import TensorCore

/// Deterministic xorshift generator so random-shape tests reproduce exactly.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
}

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
