import Foundation
import Testing
import TestSupport
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

    /// CVectorMath's kernels at every SIMD level this CPU has, on lengths that end in a partial vector.
    @Test func vectorKernelsMatchDoubleAtEveryLevel() {
        let counts = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 77, 4099]
        var levels: Set<Int> = []
        for cap in 0...2 {
            let level = withVectorMathLevel(cap) {
                var rng = SplitMix64(seed: UInt64(cap))
                for count in counts {
                    let x = (0..<count).map { _ in Float.random(in: -9...9, using: &rng) }
                    let g = (0..<count).map { _ in Float.random(in: -6...6, using: &rng) }
                    func gelu(_ v: Double) -> Double { 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot())) }
                    func check(_ name: String, _ got: [Float], _ want: [Double], tolerance: Double) {
                        let err = zip(got, want).map { abs(Double($0) - $1) / max(1, abs($1)) }.max()!
                        #expect(err < tolerance, "\(name) at level cap \(cap), \(count) floats: \(err)")
                    }
                    var row = x
                    let inv = row.withUnsafeMutableBufferPointer { fastExpShiftedRow($0.baseAddress!, count: count) }
                    let m = Double(x.max()!)
                    let e = x.map { Foundation.exp(Double($0) - m) }
                    check("exp shifted", row, e, tolerance: 1e-6)
                    #expect(abs(Double(inv) * e.reduce(0, +) - 1) < 1e-5)
                    var gated = [Float](repeating: .nan, count: count)
                    gatedGELU(x, g, &gated, count: count)
                    // erf is good to 1.5e-7 absolute, scaled here by |a g| / 2 up to 27.
                    check("gated GELU", gated, zip(x, g).map { Double($0) * gelu(Double($1)) }, tolerance: 5e-6)
                    let activations: [(Activation, (Double) -> Double)] = [
                        (.silu, { $0 / (1 + Foundation.exp(-$0)) }), (.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }),
                        (.gelu, gelu), (.quickGELU, { $0 / (1 + Foundation.exp(-1.702 * $0)) }),
                    ]
                    // Layer norm of a row offset by 1000 (cancellation-prone), with and without the affine part.
                    let shifted = x.map { 1000 + $0 * 0.01 }
                    let mean = shifted.reduce(0.0) { $0 + Double($1) } / Double(count)
                    let variance = shifted.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(count)
                    let normalised = shifted.map { (Double($0) - mean) / (variance + 1e-5).squareRoot() }
                    let gamma = Tensor(shape: [count], scalars: g), beta = Tensor(shape: [count], scalars: x)
                    let shiftedRow = Tensor(shape: [1, count], scalars: shifted)
                    // The inputs are rounded to Float, which the relative tolerance allows for.
                    check("layer norm", layerNorm(shiftedRow, weight: nil, bias: nil).scalars, normalised, tolerance: 2e-3)
                    check("affine layer norm", layerNorm(shiftedRow, weight: gamma, bias: beta).scalars,
                          zip(normalised, zip(g, x)).map { $0 * Double($1.0) + Double($1.1) }, tolerance: 1e-2)
                    for (activation, reference) in activations {
                        var y = x
                        y.withUnsafeMutableBufferPointer { applyActivation(activation, $0.baseAddress!, count: count) }
                        check("\(activation)", y, x.map { reference(Double($0)) }, tolerance: 1e-6)
                    }
                }
                var masked: [Float] = [-.infinity, 2, -.infinity, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
                _ = masked.withUnsafeMutableBufferPointer { fastExpShiftedRow($0.baseAddress!, count: $0.count) }
                #expect(masked[0] < 1e-37 && masked[2] < 1e-37 && masked[1] == 1)
                var allMasked = [Float](repeating: -.infinity, count: 21)
                let inv = allMasked.withUnsafeMutableBufferPointer { fastExpShiftedRow($0.baseAddress!, count: 21) }
                #expect(inv == 0 && allMasked == [Float](repeating: 0, count: 21))
            }
            levels.insert(level)
        }
        print("vector kernels checked at levels \(levels.sorted()) (this CPU: \(vectorMathLevel))")
        #expect(levels.contains(0))
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
            let d = pointwiseError(got, want)
            print("attention lq \(lq) lk \(lk) heads \(heads) block \(blockRows ?? 0) causal \(causal): max abs \(d.abs), max rel \(d.rel)")
            #expect(d.rel <= 1e-5)
        }
    }
}
