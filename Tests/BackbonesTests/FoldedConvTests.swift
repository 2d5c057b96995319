import Foundation
import Testing
import TensorCore
@testable import Backbones
import TestSupport

/// `FoldedConv` (load + BN fold + TensorCore `PreparedConv2d`) against the unfolded definition: conv2dReference
/// followed by batchNorm2d, residual and activation; and its input checks.
@Suite struct FoldedConvTests {
    struct Case: Sendable, CustomStringConvertible {
        var inC: Int, outC: Int, k: Int, p: Conv2dParameters, act: Activation, residual: Bool
        var description: String { "c\(inC)->\(outC) k\(k) \(p) \(act) res \(residual)" }
    }

    static let cases: [Case] = [
        Case(inC: 8, outC: 12, k: 1, p: .init(), act: .relu6, residual: false),                                   // pointwise
        Case(inC: 8, outC: 8, k: 1, p: .init(), act: .none, residual: true),
        Case(inC: 6, outC: 6, k: 3, p: .init(stride: 2, padding: 1, groups: 6), act: .relu6, residual: false),    // depthwise
        Case(inC: 5, outC: 5, k: 3, p: EfficientNetLite.sameParameters(imageSize: 10, kernel: 3, stride: 2, groups: 5),
             act: .relu6, residual: false),                                                                          // TF SAME (0, 1)
        Case(inC: 5, outC: 5, k: 5, p: EfficientNetLite.sameParameters(imageSize: 10, kernel: 5, stride: 2, groups: 5),
             act: .none, residual: false),                                                                           // TF SAME (1, 2)
        Case(inC: 4, outC: 4, k: 5, p: .init(padding: 2, groups: 4), act: .relu, residual: true),
        Case(inC: 3, outC: 7, k: 7, p: .init(stride: 2, padding: 3), act: .relu, residual: false),                // stem
        Case(inC: 16, outC: 5, k: 3, p: .init(padding: 1), act: .relu, residual: true),                           // shifted GEMM
        Case(inC: 6, outC: 10, k: 1, p: .init(stride: 2), act: .none, residual: false),                           // downsample
        Case(inC: 3, outC: 32, k: 3, p: EfficientNetLite.sameParameters(imageSize: 10, kernel: 3, stride: 2),
             act: .relu6, residual: false),                                                                          // Lite stem
    ]

    @Test(arguments: cases)
    func foldedConvMatchesConvThenBatchNorm(_ c: Case) throws {
        let r = WeightReader(syntheticSeed: 3)
        let f = try FoldedConv.load(r, conv: "conv", bn: "bn", inChannels: c.inC, outChannels: c.outC, kernel: c.k,
                                    parameters: c.p, eps: 1e-3, activation: c.act)
        let w = try #require(r.read["conv.weight"])
        let (gamma, beta) = (try #require(r.read["bn.weight"]), try #require(r.read["bn.bias"]))
        let (mean, variance) = (try #require(r.read["bn.running_mean"]), try #require(r.read["bn.running_var"]))
        for (h, wd) in [(10, 10), (9, 7), (1, 1)] {
            let x = Support.input([2, c.inC, h, wd], seed: UInt64(h * 31 + wd))
            let (oh, ow) = c.p.outputSize(h: h, w: wd, kh: c.k, kw: c.k)
            guard oh > 0, ow > 0 else {
                #expect(throws: BackboneError.self) { try f(x) }
                continue
            }
            let res = c.residual ? Support.input([2, c.outC, oh, ow], seed: 99) : nil
            var want = batchNorm2d(conv2dReference(x, weight: w, bias: nil, c.p), gamma: gamma, beta: beta,
                                   runningMean: mean, runningVar: variance, eps: 1e-3)
            if let res { for i in 0..<want.count { want.scalars[i] += res.scalars[i] } }
            want.apply(c.act)
            let got = try f(x, residual: res)
            #expect(got.shape == [2, c.outC, oh, ow])
            let (a, rel) = relativeError(got, want)
            #expect(rel < 1e-5, "\(c) at \(h)x\(wd): max abs \(a), rel \(rel)")
        }
    }

    @Test func sameParametersFollowConv2dStaticSamePadding() {
        // pad = max((ceil(i/s) - 1) * s + k - i, 0), (pad/2 before, rest after): 224 3x3/2 -> (0, 1); 5x5/2 -> (1, 2);
        // 3x3/1 -> (1, 1); 260/2=130 (even) 5x5/1 -> (2, 2); 65 (odd) 3x3/2 -> (1, 1).
        #expect(EfficientNetLite.samePadding(imageSize: 224, kernel: 3, stride: 2) == (0, 1))
        #expect(EfficientNetLite.samePadding(imageSize: 224, kernel: 5, stride: 2) == (1, 2))
        #expect(EfficientNetLite.samePadding(imageSize: 112, kernel: 3, stride: 1) == (1, 1))
        #expect(EfficientNetLite.samePadding(imageSize: 130, kernel: 5, stride: 1) == (2, 2))
        #expect(EfficientNetLite.samePadding(imageSize: 65, kernel: 3, stride: 2) == (1, 1))
        let p = EfficientNetLite.sameParameters(imageSize: 224, kernel: 3, stride: 2, groups: 4)
        #expect(p.padding == (0, 0) && p.paddingEnd == (1, 1) && p.stride == (2, 2) && p.groups == 4)
        #expect(p.outputSize(h: 224, w: 224, kh: 3, kw: 3) == (112, 112))
    }

    @Test func rejectsWrongChannelsAndTooSmallInput() throws {
        let f = try FoldedConv.load(WeightReader(syntheticSeed: 1), conv: "c", bn: "b", inChannels: 3, outChannels: 4,
                                    kernel: 7, parameters: .init(stride: 2), eps: 1e-5, activation: .relu)
        #expect(throws: BackboneError.self) { try f(Tensor(zeros: [1, 2, 16, 16])) }
        #expect(throws: BackboneError.self) { try f(Tensor(zeros: [1, 3, 5, 16])) }
        #expect(throws: BackboneError.self) { try f(Tensor(zeros: [1, 3, 16, 16]), residual: Tensor(zeros: [1, 4, 6, 6])) }
    }
}
