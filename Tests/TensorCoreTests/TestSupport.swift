import Foundation
import Testing
@testable import TensorCore

/// Random-shape tests reproduce exactly with the seeded generator.
typealias SeededGenerator = SplitMix64

func randomTensor(_ shape: [Int], using rng: inout SeededGenerator, scale: Float = 1) -> Tensor {
    Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &rng) })
}
