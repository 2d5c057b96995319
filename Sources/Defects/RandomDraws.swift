import TensorCore

/// The draws the synthetic-defect generators make from `SplitMix64`, written out so that a sample's bytes depend only
/// on its seed (the standard library's `random(in:using:)` algorithms are not part of its API contract).
extension SplitMix64 {
    /// Uniform in `r` (a point range gives its bound).
    mutating func uniform(_ r: ClosedRange<Double>) -> Double {
        r.lowerBound + (r.upperBound - r.lowerBound) * nextUnit()
    }

    /// Uniform integer in `r` (modulo bias is below 2^-40 for the ranges used here).
    mutating func int(_ r: ClosedRange<Int>) -> Int {
        r.lowerBound + Int(next() % UInt64(r.count))
    }

    /// Uniform index in `0..<n`, `n > 0`.
    mutating func index(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { nextUnit() < p }
}
