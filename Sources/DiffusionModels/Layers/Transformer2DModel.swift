import TensorCore

/// Port of diffusers attention.py `BasicTransformerBlock` (norm_type "layer_norm", GEGLU feed-forward, no
/// dropout): x += attn1(norm1(x)); x += attn2(norm2(x), context); x += ff(norm3(x)),
/// ff(h) = net.2(a * gelu(g)) with (a, g) = split(net.0.proj(h)).
struct BasicTransformerBlock: Sendable {
    let norm1, norm2, norm3: LayerNormLayer
    let attn1, attn2: Attention
    let ffProj: LinearLayer      // ff.net.0.proj: dim -> 2 * 4 dim
    let ffOut: LinearLayer       // ff.net.2: 4 dim -> dim

    init(_ w: WeightScope, dim: Int, contextDim: Int, heads: Int, headDim: Int) throws {
        norm1 = try LayerNormLayer(w.scope("norm1"), features: dim)
        attn1 = try Attention(w.scope("attn1"), queryDim: dim, heads: heads, headDim: headDim)
        norm2 = try LayerNormLayer(w.scope("norm2"), features: dim)
        attn2 = try Attention(w.scope("attn2"), queryDim: dim, contextDim: contextDim, heads: heads, headDim: headDim)
        norm3 = try LayerNormLayer(w.scope("norm3"), features: dim)
        ffProj = try LinearLayer(w.scope("ff.net.0.proj"), inFeatures: dim, outFeatures: 8 * dim)
        ffOut = try LinearLayer(w.scope("ff.net.2"), inFeatures: 4 * dim, outFeatures: dim)
    }

    /// x (B,L,dim), context (B,Lc,contextDim), in place.
    func callAsFunction(_ x: inout Tensor, context: Tensor) {
        attn1.accumulate(norm1(x), into: &x)
        attn2.accumulate(norm2(x), context: context, into: &x)
        feedForward(norm3(x), into: &x)
    }

    /// x (B,L,dim) += ff(h), in row chunks so the (rows, 8 dim) projection stays under glibc's 32 MiB mmap
    /// threshold (at SD's 8192 tokens it would be 84 MiB: fresh pages on every call). Chunks are equal and as
    /// large as that allows, as GEMMs of few rows run slower; see bench/DESIGN_NOTES.md#feed-forward-chunks.
    /// `chunkRows` overrides the chunk size (tests).
    func feedForward(_ h: Tensor, into x: inout Tensor, chunkRows: Int? = nil) {
        let dim = ffOut.outFeatures, inner = ffOut.inFeatures
        let rows = h.count / max(1, dim)
        let largest = chunkRows ?? max(64, (8 << 20) / max(1, 2 * inner))
        let pieces = (rows + largest - 1) / max(1, largest)
        let chunk = max(1, (rows + pieces - 1) / max(1, pieces))
        let proj = UnsafeMutablePointer<Float>.allocate(capacity: chunk * 2 * inner)
        let gated = UnsafeMutablePointer<Float>.allocate(capacity: chunk * inner)
        defer { proj.deallocate(); gated.deallocate() }
        h.withUnsafeBufferPointer { ph in
            x.withUnsafeMutableBufferPointer { px in
                var r0 = 0
                while r0 < rows {
                    let n = min(chunk, rows - r0)
                    ffProj.apply(rows: n, ph.baseAddress! + r0 * dim, into: proj)
                    Parallel.chunks(count: n, minChunk: max(1, 16384 / max(1, inner))) { range in
                        for r in range {
                            gatedGELU(proj + r * 2 * inner, proj + r * 2 * inner + inner, gated + r * inner, count: inner)
                        }
                    }
                    ffOut.accumulate(rows: n, gated, into: px.baseAddress! + r0 * dim)
                    r0 += n
                }
            }
        }
    }
}

/// GEGLU's gate: h (..., 2F) = [a | g] -> a * gelu(g) (..., F).
func geglu(_ h: Tensor) -> Tensor {
    let twoF = h.shape[h.rank - 1], f = twoF / 2
    let rows = h.count / max(1, twoF)
    var shape = h.shape
    shape[shape.count - 1] = f
    let scalars = [Float](unsafeUninitializedCapacity: rows * f) { po, initialized in
        h.withUnsafeBufferPointer { ph in
            let src = ph.baseAddress!, dst = po.baseAddress!
            Parallel.chunks(count: rows, minChunk: max(1, 16384 / max(1, f))) { range in
                for r in range { gatedGELU(src + r * twoF, src + r * twoF + f, dst + r * f, count: f) }
            }
        }
        initialized = rows * f
    }
    return Tensor(shape: shape, scalars: scalars)
}

/// Port of diffusers transformers/transformer_2d.py `Transformer2DModel` for continuous inputs:
/// GroupNorm (eps 1e-6) -> proj_in (1x1 conv, or linear on tokens with use_linear_projection) -> N
/// BasicTransformerBlocks -> proj_out -> + x.
struct Transformer2DModel: Sendable {
    let norm: GroupNormLayer
    let projInConv: PreparedConv2d?
    let projInLinear: LinearLayer?
    let blocks: [BasicTransformerBlock]
    let projOutConv: PreparedConv2d?
    let projOutLinear: LinearLayer?

    init(_ w: WeightScope, channels: Int, heads: Int, headDim: Int, layers: Int, contextDim: Int, groups: Int,
         linearProjection: Bool) throws {
        let inner = heads * headDim
        norm = try GroupNormLayer(w.scope("norm"), channels: channels, groups: groups, eps: 1e-6)
        if linearProjection {
            projInLinear = try LinearLayer(w.scope("proj_in"), inFeatures: channels, outFeatures: inner)
            projInConv = nil
        } else {
            projInConv = try loadConv(w.scope("proj_in"), inChannels: channels, outChannels: inner, kernel: 1)
            projInLinear = nil
        }
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(w.scope("transformer_blocks.\($0)"), dim: inner, contextDim: contextDim,
                                      heads: heads, headDim: headDim)
        }
        if linearProjection {
            projOutLinear = try LinearLayer(w.scope("proj_out"), inFeatures: inner, outFeatures: channels)
            projOutConv = nil
        } else {
            projOutConv = try loadConv(w.scope("proj_out"), inChannels: inner, outChannels: channels, kernel: 1)
            projOutLinear = nil
        }
    }

    /// x (B,C,H,W), context (B,Lc,Dc) -> (B,C,H,W)
    func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        let normed = norm(x)
        var t: Tensor
        if let projInConv {
            t = tokens(fromMap: projInConv(normed))
        } else {
            t = projInLinear!(tokens(fromMap: normed))
        }
        for block in blocks { block(&t, context: context) }
        if let projOutConv {
            return projOutConv(map(fromTokens: t, height: h, width: w), residual: x)
        }
        var out = tokens(fromMap: x)
        projOutLinear!.accumulate(t, into: &out)
        return map(fromTokens: out, height: h, width: w)
    }
}
