import TensorCore

/// Port of diffusers attention_processor.py `Attention` with `AttnProcessor2_0`, for inference in fp32 (the
/// upcast_attention / upcast_softmax flags change nothing when everything is fp32 already).
///
/// Parameters: to_q, to_k, to_v (bias only in the VAE's attention), to_out.0 (with bias), and for the VAE's
/// mid-block attention a group_norm applied first plus a residual connection.
///
/// ```swift
/// let attn2 = try Attention(w.scope("attn2"), queryDim: 320, contextDim: 768, heads: 8, headDim: 40)
/// attn2.accumulate(norm2(x), context: text, into: &x)   // x += attn2(norm2(x), text)
/// ```
struct Attention: Sendable {
    let toQ, toK, toV, toOut: LinearLayer
    let heads: Int
    /// VAE mid-block variant: GroupNorm before the projections and `+ x` after.
    let groupNorm: GroupNormLayer?

    init(_ w: WeightScope, queryDim: Int, contextDim: Int? = nil, heads: Int, headDim: Int, qkvBias: Bool = false,
         groupNorm: (groups: Int, eps: Float)? = nil) throws {
        let inner = heads * headDim
        toQ = try LinearLayer(w.scope("to_q"), inFeatures: queryDim, outFeatures: inner, bias: qkvBias)
        toK = try LinearLayer(w.scope("to_k"), inFeatures: contextDim ?? queryDim, outFeatures: inner, bias: qkvBias)
        toV = try LinearLayer(w.scope("to_v"), inFeatures: contextDim ?? queryDim, outFeatures: inner, bias: qkvBias)
        toOut = try LinearLayer(w.scope("to_out.0"), inFeatures: inner, outFeatures: queryDim)
        self.heads = heads
        self.groupNorm = try groupNorm.map {
            try GroupNormLayer(w.scope("group_norm"), channels: queryDim, groups: $0.groups, eps: $0.eps)
        }
    }

    /// softmax(q k^T / sqrt(D)) v before the output projection: x (B,L,C), context (B,Lk,Ck) or nil for
    /// self-attention -> (B,L,H*D).
    private func attend(_ x: Tensor, context: Tensor?) -> Tensor {
        let c = context ?? x
        return scaledDotProductAttention(query: toQ(x), key: toK(c), value: toV(c), heads: heads)
    }

    /// residual (B,L,C) += to_out(attention(x, context)).
    func accumulate(_ x: Tensor, context: Tensor? = nil, into residual: inout Tensor) {
        toOut.accumulate(attend(x, context: context), into: &residual)
    }

    /// The VAE mid-block form on a feature map: x (B,C,H,W) -> x + to_out(attention(group_norm(x))).
    func spatial(_ x: Tensor) -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        let normed = groupNorm.map { $0(x) } ?? x
        var out = tokens(fromMap: x)
        toOut.accumulate(attend(tokens(fromMap: normed), context: nil), into: &out)
        return map(fromTokens: out, height: h, width: w)
    }
}
