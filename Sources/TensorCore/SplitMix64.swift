/// The project's one seedable random generator (used for coreset starts and projections, demo data,
/// synthetic weights and randomised tests). Swift's default generator cannot be seeded.
/// SplitMix64 (Steele, Lea & Flood 2014): tiny, and easy to reproduce bit for bit in Python
/// (scripts/make_memorybank_fixtures.py does), so coreset picks can be compared with a reference.
///
/// ```swift
/// var rng = SplitMix64(seed: 42)
/// let start = Int(rng.next() % UInt64(n))
/// ```
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform double in [0, 1): the top 53 bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

extension Tensor {
    /// Scalars drawn uniformly from `range` (for tests and benchmarks).
    public static func random(_ shape: [Int], in range: ClosedRange<Float> = -1...1,
                              using rng: inout some RandomNumberGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &rng) })
    }
}
