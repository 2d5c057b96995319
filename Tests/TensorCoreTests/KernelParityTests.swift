import Foundation
import Testing
import Checkpoints
import TestSupport
@testable import TensorCore

/// Parity with PyTorch: Fixtures/kernels.safetensors and kernels.json come from scripts/make_tensorcore_fixtures.py.
@Suite struct KernelParityTests {
    struct Case: Decodable {
        let op: String
        let name: String
        var stride: [Int]?
        var padding: [Int]?
        var dilation: [Int]?
        var groups: Int?
        var bias: Bool?
        var residual: Bool?
        var activation: String?
        var eps: Float?
        var kernel: Int?
        var ceil_mode: Bool?
        var output: [Int]?
    }

    static let tolerance: Float = 1e-4

    let tensors: [String: Tensor]
    let cases: [Case]

    init() throws {
        let fixtures = FixtureFolder(bundle: .module)
        tensors = try fixtures.tensors("kernels.safetensors")
        struct File: Decodable { let cases: [Case] }
        let data = try fixtures.data("kernels.json")
        cases = try JSONDecoder().decode(File.self, from: data).cases
    }

    func t(_ c: Case, _ key: String) throws -> Tensor {
        try #require(tensors["\(c.name).\(key)"], "fixture tensor \(c.name).\(key) missing")
    }

    func activation(_ name: String?) -> Activation {
        switch name {
        case "relu": .relu
        case "relu6": .relu6
        case "silu": .silu
        case "sigmoid": .sigmoid
        default: .none
        }
    }

    func check(_ name: String, _ got: Tensor, _ want: Tensor) {
        #expect(got.shape == want.shape, "\(name): shape \(got.shape) != torch \(want.shape)")
        guard got.shape == want.shape else { return }
        let d = pointwiseError(got, want)
        print("parity \(name): max abs diff \(d.abs), max rel diff \(d.rel)")
        #expect(d.rel <= Self.tolerance, "\(name): max rel diff \(d.rel) > \(Self.tolerance)")
    }

    @Test func conv2dMatchesTorch() throws {
        let convs = cases.filter { $0.op == "conv2d" }
        #expect(convs.count >= 15)
        for c in convs {
            let (s, p, d) = (c.stride!, c.padding!, c.dilation!)
            let params = Conv2dParameters(stride: (s[0], s[1]), padding: (p[0], p[1]), dilation: (d[0], d[1]), groups: c.groups!)
            let bias = c.bias! ? try t(c, "b") : nil
            let residual = c.residual! ? try t(c, "r") : nil
            let y = conv2d(try t(c, "x"), weight: try t(c, "w"), bias: bias, params,
                           residual: residual, activation: activation(c.activation))
            check(c.name, y, try t(c, "y"))
            if residual == nil && c.activation == "none" {
                check(c.name + " (reference)", conv2dReference(try t(c, "x"), weight: try t(c, "w"), bias: bias, params), try t(c, "y"))
            }
        }
    }

    @Test func foldedBatchNormMatchesTorch() throws {
        let folds = cases.filter { $0.op == "bnfold" }
        #expect(folds.count == 2)
        for c in folds {
            let convBias = c.bias! ? try t(c, "b") : nil
            let (w, b) = foldBatchNorm(convWeight: try t(c, "w"), convBias: convBias, gamma: try t(c, "gamma"),
                                       beta: try t(c, "beta"), runningMean: try t(c, "mean"),
                                       runningVar: try t(c, "var"), eps: c.eps!)
            let params = Conv2dParameters(padding: c.padding![0])
            check(c.name + " folded", conv2d(try t(c, "x"), weight: w, bias: b, params), try t(c, "y"))
            let unfolded = batchNorm2d(conv2dReference(try t(c, "x"), weight: try t(c, "w"), bias: convBias, params),
                                       gamma: try t(c, "gamma"), beta: try t(c, "beta"), runningMean: try t(c, "mean"),
                                       runningVar: try t(c, "var"), eps: c.eps!)
            check(c.name + " unfolded", unfolded, try t(c, "y"))
        }
    }

    @Test func maxPool2dMatchesTorch() throws {
        let pools = cases.filter { $0.op == "maxpool2d" }
        #expect(pools.count >= 4)
        for c in pools {
            let y = maxPool2d(try t(c, "x"), kernel: c.kernel!, stride: c.stride![0], padding: c.padding![0],
                              ceilMode: c.ceil_mode!)
            check(c.name, y, try t(c, "y"))
        }
    }

    @Test func adaptiveAvgPool2dMatchesTorch() throws {
        let pools = cases.filter { $0.op == "adaptiveavgpool2d" }
        #expect(pools.count >= 4)
        for c in pools {
            let y = adaptiveAvgPool2d(try t(c, "x"), outputHeight: c.output![0], outputWidth: c.output![1])
            check(c.name, y, try t(c, "y"))
        }
    }

    @Test func activationsMatchTorch() throws {
        let acts = cases.filter { $0.op == "activation" }
        #expect(acts.count == 4)
        for c in acts {
            var y = try t(c, "x")
            switch c.activation {
            case "relu": y.applyReLU()
            case "relu6": y.applyReLU6()
            case "silu": y.applySiLU()
            default: y.applySigmoid()
            }
            check(c.name, y, try t(c, "y"))
        }
    }
}
