import Foundation
import Testing
import TensorCore
@testable import Backbones

/// Each fast path of `FoldedConv` (pointwise sgemm, depthwise direct loop, im2col + sgemm) against the naive reference.
@Suite struct FoldedConvTests {
    private func conv(inC: Int, outC: Int, k: Int, stride: Int, groups: Int, padding: Padding,
                      activation: Activation, seed: UInt64) -> FoldedConv {
        let w = SyntheticWeights.tensor(name: "conv.weight", shape: [outC, inC / groups, k, k], seed: seed)
        let b = SyntheticWeights.tensor(name: "conv.bias", shape: [outC], seed: seed)
        return FoldedConv(weight: w.scalars, bias: b.scalars, inChannels: inC, outChannels: outC, kernel: k,
                          stride: stride, groups: groups, padding: padding, activation: activation)
    }

    struct Case: Sendable, CustomStringConvertible {
        var inC: Int, outC: Int, k: Int, stride: Int, groups: Int, padding: Padding, act: Activation, residual: Bool
        var description: String { "c\(inC)->\(outC) k\(k)/\(stride) g\(groups) pad\(padding) \(act) res \(residual)" }
    }

    static let cases: [Case] = [
        Case(inC: 8, outC: 12, k: 1, stride: 1, groups: 1, padding: .symmetric(0), act: .relu6, residual: false),   // pointwise
        Case(inC: 8, outC: 8, k: 1, stride: 1, groups: 1, padding: .symmetric(0), act: .identity, residual: true),
        Case(inC: 6, outC: 6, k: 3, stride: 1, groups: 6, padding: .symmetric(1), act: .relu6, residual: false),   // depthwise
        Case(inC: 6, outC: 6, k: 3, stride: 2, groups: 6, padding: .symmetric(1), act: .relu6, residual: false),
        Case(inC: 5, outC: 5, k: 3, stride: 2, groups: 5, padding: Padding(top: 0, bottom: 1, left: 0, right: 1), act: .relu6, residual: false),
        Case(inC: 5, outC: 5, k: 5, stride: 2, groups: 5, padding: Padding(top: 1, bottom: 2, left: 1, right: 2), act: .identity, residual: false),
        Case(inC: 4, outC: 4, k: 5, stride: 1, groups: 4, padding: .symmetric(2), act: .relu, residual: true),
        Case(inC: 3, outC: 7, k: 7, stride: 2, groups: 1, padding: .symmetric(3), act: .relu, residual: false),   // im2col
        Case(inC: 6, outC: 5, k: 3, stride: 1, groups: 1, padding: .symmetric(1), act: .relu, residual: true),
        Case(inC: 6, outC: 10, k: 1, stride: 2, groups: 1, padding: .symmetric(0), act: .identity, residual: false),
        Case(inC: 6, outC: 4, k: 3, stride: 2, groups: 2, padding: Padding(top: 0, bottom: 1, left: 0, right: 1), act: .identity, residual: false),
    ]

    @Test(arguments: cases)
    func fastPathMatchesReference(_ c: Case) throws {
        let f = conv(inC: c.inC, outC: c.outC, k: c.k, stride: c.stride, groups: c.groups, padding: c.padding,
                     activation: c.act, seed: 3)
        for (h, w) in [(9, 9), (10, 7), (1, 1)] where f.outputSize(h: h, w: w).h > 0 && f.outputSize(h: h, w: w).w > 0 {
            let x = Support.input([2, c.inC, h, w], seed: UInt64(h * 31 + w))
            let (oh, ow) = f.outputSize(h: h, w: w)
            let r = c.residual ? Support.input([2, c.outC, oh, ow], seed: 99) : nil
            let fast = try f(x, residual: r)
            let ref = try f.referenceForward(x, residual: r)
            #expect(fast.shape == [2, c.outC, oh, ow])
            let (a, rel) = Support.relativeError(fast, ref)
            #expect(rel < 1e-5, "\(c) at \(h)x\(w): max abs \(a), rel \(rel)")
        }
    }

    @Test func matchesTensorCoreConv2dForSymmetricPadding() throws {
        let f = conv(inC: 4, outC: 6, k: 3, stride: 2, groups: 2, padding: .symmetric(1), activation: .identity, seed: 5)
        let x = Support.input([1, 4, 11, 8], seed: 1)
        let ours = try f(x)
        let theirs = conv2d(x, weight: Tensor(shape: [6, 2, 3, 3], scalars: f.weight), bias: Tensor(shape: [6], scalars: f.bias),
                            Conv2dParameters(stride: 2, padding: 1, groups: 2))
        #expect(Support.relativeError(ours, theirs).rel < 1e-5)
    }

    @Test func rejectsWrongChannelsAndTooSmallInput() {
        let f = conv(inC: 3, outC: 4, k: 7, stride: 2, groups: 1, padding: .symmetric(0), activation: .relu, seed: 1)
        #expect(throws: BackboneError.self) { try f(Tensor(zeros: [1, 2, 16, 16])) }
        #expect(throws: BackboneError.self) { try f(Tensor(zeros: [1, 3, 5, 16])) }
    }

    @Test func batchNormFoldMatchesFormula() {
        // y = gamma * (w*x + b - mean) / sqrt(var + eps) + beta, checked at x = 1 and x = 0.
        let (w, b) = localFoldBatchNorm(weight: [2, -1], bias: [0.5, 0], outChannels: 2, gamma: [1.5, 0.5], beta: [0.1, -0.2],
                                        mean: [0.3, 1], variance: [4, 0.25], eps: 1e-5)
        let s0 = 1.5 / (4 + 1e-5).squareRoot(), s1 = 0.5 / (0.25 + 1e-5).squareRoot()
        #expect(abs(Double(w[0]) - 2 * s0) < 1e-6 && abs(Double(w[1]) + s1) < 1e-6)
        #expect(abs(Double(b[0]) - ((0.5 - 0.3) * s0 + 0.1)) < 1e-6)
        #expect(abs(Double(b[1]) - ((0 - 1) * s1 - 0.2)) < 1e-6)
    }

    @Test func maxPoolMatchesNaiveWindowMaximum() {
        for (h, w) in [(7, 7), (8, 5), (1, 2)] {
            let x = Support.input([2, 3, h, w], seed: UInt64(h + w))
            let y = localMaxPool3x3s2(x)
            let oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1
            #expect(y.shape == [2, 3, oh, ow])
            for b in 0..<2 { for c in 0..<3 { for oy in 0..<oh { for ox in 0..<ow {
                var m = -Float.infinity
                for iy in (2 * oy - 1)...(2 * oy + 1) where iy >= 0 && iy < h {
                    for ix in (2 * ox - 1)...(2 * ox + 1) where ix >= 0 && ix < w { m = max(m, x[b, c, iy, ix]) }
                }
                #expect(y[b, c, oy, ox] == m)
            } } } }
        }
    }
}
