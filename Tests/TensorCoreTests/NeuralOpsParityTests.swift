import Foundation
import Testing
import Checkpoints
import TestSupport
@testable import TensorCore

/// Parity with PyTorch for the transformer / normalisation layers: Fixtures/neural_ops.safetensors comes from
/// scripts/make_neuralops_fixtures.py.
@Suite struct NeuralOpsParityTests {
    let t: [String: Tensor]
    init() throws {
        t = try FixtureFolder(bundle: .module).tensors("neural_ops.safetensors")
    }
    func f(_ k: String) throws -> Tensor { try #require(t[k], "fixture tensor \(k) missing") }

    func check(_ name: String, _ got: Tensor, _ want: Tensor, tolerance: Float = 1e-5) {
        #expect(got.shape == want.shape, "\(name): shape \(got.shape) vs \(want.shape)")
        guard got.shape == want.shape else { return }
        let d = pointwiseError(got, want)
        print("\(name): max abs \(d.abs), max rel \(d.rel)")
        #expect(d.rel <= tolerance, "\(name): max rel \(d.rel)")
    }

    @Test func linearMatchesTorch() throws {
        check("linear", linear(try f("linear.x"), weight: try f("linear.w"), bias: try f("linear.b")), try f("linear.y"))
        var noBias = linear(try f("linear.x"), weight: try f("linear.w"))
        let b = try f("linear.b")
        for r in 0..<10 { for c in 0..<40 { noBias.scalars[r * 40 + c] += b.scalars[c] } }
        check("linear without bias + bias", noBias, try f("linear.y"))
    }

    @Test func normsMatchTorch() throws {
        check("layer_norm", layerNorm(try f("layer_norm.x"), weight: try f("layer_norm.w"), bias: try f("layer_norm.b")),
              try f("layer_norm.y"))
        let x = try f("group_norm.x")
        check("group_norm", groupNorm(x, groups: 8, weight: try f("group_norm.w"), bias: try f("group_norm.b"), eps: 1e-6),
              try f("group_norm.y"))
        check("group_norm+silu", groupNorm(x, groups: 8, weight: try f("group_norm.w"), bias: try f("group_norm.b"),
                                           eps: 1e-6, activation: .silu), try f("group_norm.silu"))
    }

    @Test func activationsAndSoftmaxMatchTorch() throws {
        let x = try f("act.x")
        check("softmax", x.softmaxLastDimension(), try f("act.softmax"))
        for (act, key) in [(Activation.gelu, "act.gelu"), (.geluTanh, "act.gelu_tanh"), (.quickGELU, "act.quick_gelu")] {
            var y = x
            y.apply(act)
            check(key, y, try f(key))
        }
    }

    @Test func attentionMatchesTorchAndTheReference() throws {
        let q = try f("attn.q"), k = try f("attn.k"), v = try f("attn.v")
        check("attention", scaledDotProductAttention(query: q, key: k, value: v, heads: 4), try f("attn.o"))
        check("attention reference", scaledDotProductAttentionReference(query: q, key: k, value: v, heads: 4), try f("attn.o"))
        let kc = try f("causal.k"), vc = try f("causal.v")
        check("causal attention", scaledDotProductAttention(query: q, key: kc, value: vc, heads: 4, causal: true),
              try f("causal.o"))
    }

    @Test func permuteMatchesTorch() throws {
        check("permute", try f("permute.x").permuted([0, 2, 3, 1]), try f("permute.y"), tolerance: 0)
        let x = try f("permute.x")
        #expect(x.permuted([0, 2, 3, 1]).permuted([0, 3, 1, 2]) == x)
    }
}
