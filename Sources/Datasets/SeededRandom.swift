import Foundation
import TensorCore

/// xoshiro256** (Blackman & Vigna), seeded through splitmix64. Deterministic across runs and platforms
/// for the integer stream; `uniform()` maps the top 53 bits to [0, 1).
///
/// ```swift
/// var rng = SeededRandom(seed: 42)
/// let x = rng.uniform(in: 0.2..<0.8)
/// ```
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s = (sm.next(), sm.next(), sm.next(), sm.next())
    }

    /// A generator for a derived stream, e.g. one per image: `SeededRandom(seed: base, stream: 7)`.
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03) &+ 0x632B_E59B_D9B4_E019)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = SeededRandom.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = SeededRandom.rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    public mutating func uniform(in r: Range<Double>) -> Double { r.lowerBound + (r.upperBound - r.lowerBound) * uniform() }

    /// Uniform integer in `r` (modulo bias is negligible for the small ranges used here).
    public mutating func int(in r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }

    /// Standard normal (Box-Muller).
    public mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    public mutating func bool() -> Bool { next() >> 63 == 1 }
}
