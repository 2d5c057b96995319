import Foundation
import Testing
@testable import TensorCore

/// The vectorised exp / erf / softmax (FastMath.swift, Softmax.swift) against libm in Double, and the blocked
/// attention against its Double reference for block sizes that split the queries unevenly.
@Suite struct FastMathTests {
    @Test func fastExpAndErfMatchLibm() {
        var maxExp: Float = 0, maxErf: Float = 0
        for i in -8700..<8800 {
            let x = Float(i) * 0.01
            maxExp = max(maxExp, abs(fastExp(x) - Foundation.exp(x)) / Foundation.exp(x))
        }
        for i in -600..<600 {
            let x = Float(i) * 0.01
            maxErf = max(maxErf, abs(fastErf(x) - Foundation.erf(x)))
        }
        var maxNonPositive: Float = 0
        for i in 0..<8700 {
            let x = -Float(i) * 0.01
            maxNonPositive = max(maxNonPositive, abs(fastExpNonPositive(x) - Foundation.exp(x)) / Foundation.exp(x))
        }
        print("fastExp max rel \(maxExp), fastExpNonPositive max rel \(maxNonPositive), fastErf max abs \(maxErf)")
        #expect(maxNonPositive < 5e-7)
        #expect(fastExpNonPositive(-.infinity) < 1e-37)
        #expect(maxExp < 5e-7)
        #expect(maxErf < 5e-7)
        #expect(fastExp(-100) == 0)
    }

    @Test func softmaxRowMatchesDoubleDefinition() {
        var rng = SplitMix64(seed: 3)
        for count in [1, 7, 8, 77, 4096] {
            var row = (0..<count).map { _ in Float.random(in: -20...20, using: &rng) }
            let m = row.max()!
            let e = row.map { Foundation.exp(Double($0 - m)) }
            let z = e.reduce(0, +)
            row.withUnsafeMutableBufferPointer { softmaxRow($0.baseAddress!, count: count) }
            let err = zip(row, e).map { abs(Double($0) - $1 / z) }.max()!
            print("softmax of \(count): max abs \(err)")
            #expect(err < 1e-6, "softmax of \(count): \(err)")
        }
        var masked = [Float](repeating: -.infinity, count: 9)
        masked.withUnsafeMutableBufferPointer { softmaxRow($0.baseAddress!, count: 9) }
        #expect(masked == [Float](repeating: 0, count: 9))
    }

    @Test func blockedAttentionMatchesReference() {
        var rng = SplitMix64(seed: 5)
        let cases: [(Int, Int, Int, Int, Int?, Bool)] = [
            (37, 19, 2, 8, 8, false), (64, 77, 4, 5, 32, false), (10, 10, 1, 16, nil, false),
            (77, 77, 2, 8, 16, true), (77, 77, 3, 4, nil, true), (20, 20, 1, 8, 7, true),
        ]
        for (lq, lk, heads, d, blockRows, causal) in cases {
            let q = Tensor.random([2, lq, heads * d], in: -2...2, using: &rng)
            let k = Tensor.random([2, lk, heads * d], in: -2...2, using: &rng)
            let v = Tensor.random([2, lk, heads * d], using: &rng)
            let got = scaledDotProductAttention(query: q, key: k, value: v, heads: heads, causal: causal,
                                                blockRows: blockRows)
            let want = scaledDotProductAttentionReference(query: q, key: k, value: v, heads: heads, causal: causal)
            let d = differences(got, want)
            print("attention lq \(lq) lk \(lk) heads \(heads) block \(blockRows ?? 0) causal \(causal): max abs \(d.abs), max rel \(d.rel)")
            #expect(d.rel <= 1e-5)
        }
    }
}
