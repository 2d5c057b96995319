import Checkpoints
import Foundation
import TensorCore

/// The parameter names and shapes a config implies, computed from the config alone (no tensor is allocated), so that
/// a weights file can be compared with it before any module is built: an SD-1.5-shaped config with an empty or
/// foreign weights file fails in milliseconds listing every missing, unexpected and mis-shaped tensor, instead of
/// allocating gigabytes of stand-in zeros first.
///
/// The functions mirror the module initialisers one for one (same names, same shapes); `ParameterPlanTests` builds
/// small models with a recording weight source and checks that the two agree exactly.
struct ParameterPlan {
    private(set) var shapes: [String: [Int]] = [:]

    mutating func add(_ name: String, _ shape: [Int]) { shapes[name] = shape }

    /// Checks every planned tensor against `InputLimits` (elements and fp32 bytes, overflow-checked), then the
    /// source's declared names and shapes against the plan. Throws:
    /// - `InputLimitError` for a tensor (or a total) the limits do not allow;
    /// - `CheckpointError.missingTensors` when names are missing or unexpected and every shape matches;
    /// - `CheckpointError.shapeMismatch` when exactly one tensor has the wrong shape and nothing else is wrong;
    /// - `DiffusionModelError.weightsMismatch` listing all three kinds otherwise.
    /// `ignorable` names (buffers a model knowingly skips) are never unexpected.
    func verify(against source: WeightSource, limits: InputLimits = InputLimits.current,
                ignorable: (String) -> Bool = { _ in false }) throws {
        let file = source.sourceDescription
        var total = 0
        for name in shapes.keys.sorted() {
            let n = try limits.checkTensor(shape: shapes[name]!, bytesPerElement: 4, file: file, tensor: name)
            total = try CheckedSize.sum(total, n, file: file, field: "total parameters of the config")
        }
        guard source.enumeratesNames else { return }
        let available = Set(source.names)
        let missing = shapes.keys.filter { !available.contains($0) }.sorted()
        let unexpected = available.filter { shapes[$0] == nil && !ignorable($0) }.sorted()
        var misshaped: [(name: String, expected: [Int], actual: [Int])] = []
        for name in shapes.keys.sorted() where available.contains(name) {
            if let actual = source.declaredShape(of: name), actual != shapes[name]! {
                misshaped.append((name, shapes[name]!, actual))
            }
        }
        if misshaped.isEmpty {
            if !missing.isEmpty || !unexpected.isEmpty {
                throw CheckpointError.missingTensors(file: file, missing: missing, unexpected: unexpected)
            }
            return
        }
        if misshaped.count == 1, missing.isEmpty, unexpected.isEmpty {
            let m = misshaped[0]
            throw CheckpointError.shapeMismatch(file: file, tensor: m.name, expected: m.expected, actual: m.actual)
        }
        throw DiffusionModelError.weightsMismatch(
            file: file, missing: missing, unexpected: unexpected,
            misshaped: misshaped.map { "\($0.name): file \($0.actual), config \($0.expected)" })
    }
}

/// A key prefix into a `ParameterPlan`, as `WeightScope` is into a loader.
struct PlanScope {
    let prefix: String

    init(_ prefix: String = "") { self.prefix = prefix }

    func scope(_ name: String) -> PlanScope { PlanScope(prefix + name + ".") }

    func add(_ plan: inout ParameterPlan, _ name: String, _ shape: [Int]) { plan.add(prefix + name, shape) }

    // Layers (Modules.swift, Attention.swift, ...), in their initialisers' order.

    func linear(_ p: inout ParameterPlan, inFeatures: Int, outFeatures: Int, bias: Bool = true) {
        add(&p, "weight", [outFeatures, inFeatures])
        if bias { add(&p, "bias", [outFeatures]) }
    }

    func norm(_ p: inout ParameterPlan, channels: Int) {
        add(&p, "weight", [channels])
        add(&p, "bias", [channels])
    }

    func conv(_ p: inout ParameterPlan, inChannels: Int, outChannels: Int, kernel: Int) {
        add(&p, "weight", [outChannels, inChannels, kernel, kernel])
        add(&p, "bias", [outChannels])
    }

    func resnet(_ p: inout ParameterPlan, inChannels: Int, outChannels: Int, tembChannels: Int?) {
        scope("norm1").norm(&p, channels: inChannels)
        scope("conv1").conv(&p, inChannels: inChannels, outChannels: outChannels, kernel: 3)
        if let t = tembChannels { scope("time_emb_proj").linear(&p, inFeatures: t, outFeatures: outChannels) }
        scope("norm2").norm(&p, channels: outChannels)
        scope("conv2").conv(&p, inChannels: outChannels, outChannels: outChannels, kernel: 3)
        if inChannels != outChannels {
            scope("conv_shortcut").conv(&p, inChannels: inChannels, outChannels: outChannels, kernel: 1)
        }
    }

    func attention(_ p: inout ParameterPlan, queryDim: Int, contextDim: Int? = nil, heads: Int, headDim: Int,
                   qkvBias: Bool = false, groupNorm: Bool = false) {
        let inner = heads * headDim
        scope("to_q").linear(&p, inFeatures: queryDim, outFeatures: inner, bias: qkvBias)
        scope("to_k").linear(&p, inFeatures: contextDim ?? queryDim, outFeatures: inner, bias: qkvBias)
        scope("to_v").linear(&p, inFeatures: contextDim ?? queryDim, outFeatures: inner, bias: qkvBias)
        scope("to_out.0").linear(&p, inFeatures: inner, outFeatures: queryDim)
        if groupNorm { scope("group_norm").norm(&p, channels: queryDim) }
    }

    func transformer2D(_ p: inout ParameterPlan, channels: Int, heads: Int, headDim: Int, layers: Int, contextDim: Int,
                       linearProjection: Bool) {
        let inner = heads * headDim
        scope("norm").norm(&p, channels: channels)
        if linearProjection {
            scope("proj_in").linear(&p, inFeatures: channels, outFeatures: inner)
            scope("proj_out").linear(&p, inFeatures: inner, outFeatures: channels)
        } else {
            scope("proj_in").conv(&p, inChannels: channels, outChannels: inner, kernel: 1)
            scope("proj_out").conv(&p, inChannels: inner, outChannels: channels, kernel: 1)
        }
        for i in 0..<layers {
            let b = scope("transformer_blocks.\(i)")
            b.scope("norm1").norm(&p, channels: inner)
            b.scope("attn1").attention(&p, queryDim: inner, heads: heads, headDim: headDim)
            b.scope("norm2").norm(&p, channels: inner)
            b.scope("attn2").attention(&p, queryDim: inner, contextDim: contextDim, heads: heads, headDim: headDim)
            b.scope("norm3").norm(&p, channels: inner)
            b.scope("ff.net.0.proj").linear(&p, inFeatures: inner, outFeatures: 8 * inner)
            b.scope("ff.net.2").linear(&p, inFeatures: 4 * inner, outFeatures: inner)
        }
    }

    func sampler(_ p: inout ParameterPlan, channels: Int) {
        scope("conv").conv(&p, inChannels: channels, outChannels: channels, kernel: 3)
    }

    func timestepEmbedding(_ p: inout ParameterPlan, inChannels: Int, embedDim: Int) {
        scope("linear_1").linear(&p, inFeatures: inChannels, outFeatures: embedDim)
        scope("linear_2").linear(&p, inFeatures: embedDim, outFeatures: embedDim)
    }
}

extension UNet2DConditionConfig {
    /// Every parameter `UNet2DConditionModel(config:weights:)` reads, with its shape (mirrors its initialiser).
    var parameterPlan: ParameterPlan {
        var p = ParameterPlan()
        let w = PlanScope()
        let c = self, ch = blockOutChannels, n = ch.count, temb = timeEmbedDim
        w.scope("time_embedding").timestepEmbedding(&p, inChannels: ch[0], embedDim: temb)
        if usesTextTimeEmbedding, let proj = projectionClassEmbeddingsInputDim {
            w.scope("add_embedding").timestepEmbedding(&p, inChannels: proj, embedDim: temb)
        }
        w.scope("conv_in").conv(&p, inChannels: inChannels, outChannels: ch[0], kernel: 3)
        var output = ch[0]
        for i in 0..<n {
            let input = output
            output = ch[i]
            let b = w.scope("down_blocks.\(i)")
            for j in 0..<c.layersPerBlock[i] {
                b.scope("resnets.\(j)").resnet(&p, inChannels: j == 0 ? input : output, outChannels: output, tembChannels: temb)
                if c.downBlockTypes[i] == "CrossAttnDownBlock2D" {
                    b.scope("attentions.\(j)").transformer2D(
                        &p, channels: output, heads: c.attentionHeads[i], headDim: output / c.attentionHeads[i],
                        layers: c.transformerLayersPerBlock[i], contextDim: c.crossAttentionDim[i],
                        linearProjection: c.useLinearProjection)
                }
            }
            if i < n - 1 { b.scope("downsamplers.0").sampler(&p, channels: output) }
        }
        let mid = w.scope("mid_block")
        for j in 0..<2 { mid.scope("resnets.\(j)").resnet(&p, inChannels: ch[n - 1], outChannels: ch[n - 1], tembChannels: temb) }
        mid.scope("attentions.0").transformer2D(
            &p, channels: ch[n - 1], heads: c.attentionHeads[n - 1], headDim: ch[n - 1] / c.attentionHeads[n - 1],
            layers: c.transformerLayersPerBlock[n - 1], contextDim: c.crossAttentionDim[n - 1],
            linearProjection: c.useLinearProjection)
        let rch = Array(ch.reversed()), rHeads = Array(c.attentionHeads.reversed())
        let rLayers = Array(c.layersPerBlock.reversed()), rContext = Array(c.crossAttentionDim.reversed())
        let rTransformer = Array(c.transformerLayersPerBlock.reversed())
        output = rch[0]
        for i in 0..<n {
            let prev = output
            output = rch[i]
            let input = rch[min(i + 1, n - 1)]
            let b = w.scope("up_blocks.\(i)")
            let layers = rLayers[i] + 1
            for j in 0..<layers {
                let skip = j == layers - 1 ? input : output
                let resnetIn = j == 0 ? prev : output
                b.scope("resnets.\(j)").resnet(&p, inChannels: resnetIn + skip, outChannels: output, tembChannels: temb)
                if c.upBlockTypes[i] == "CrossAttnUpBlock2D" {
                    b.scope("attentions.\(j)").transformer2D(
                        &p, channels: output, heads: rHeads[i], headDim: output / rHeads[i], layers: rTransformer[i],
                        contextDim: rContext[i], linearProjection: c.useLinearProjection)
                }
            }
            if i < n - 1 { b.scope("upsamplers.0").sampler(&p, channels: output) }
        }
        w.scope("conv_norm_out").norm(&p, channels: ch[0])
        w.scope("conv_out").conv(&p, inChannels: ch[0], outChannels: outChannels, kernel: 3)
        return p
    }
}

extension AutoencoderKLConfig {
    /// Every parameter `AutoencoderKL(config:weights:)` reads, with its shape (mirrors its initialiser).
    var parameterPlan: ParameterPlan {
        var p = ParameterPlan()
        let ch = blockOutChannels, rch = Array(ch.reversed()), last = ch[ch.count - 1]
        func midBlock(_ s: PlanScope, _ channels: Int) {
            for j in 0..<2 { s.scope("resnets.\(j)").resnet(&p, inChannels: channels, outChannels: channels, tembChannels: nil) }
            if midBlockAddAttention {
                s.scope("attentions.0").attention(&p, queryDim: channels, heads: 1, headDim: channels, qkvBias: true,
                                                  groupNorm: true)
            }
        }
        let e = PlanScope("encoder.")
        e.scope("conv_in").conv(&p, inChannels: inChannels, outChannels: ch[0], kernel: 3)
        var output = ch[0]
        for i in 0..<ch.count {
            let input = output
            output = ch[i]
            let b = e.scope("down_blocks.\(i)")
            for j in 0..<layersPerBlock {
                b.scope("resnets.\(j)").resnet(&p, inChannels: j == 0 ? input : output, outChannels: output, tembChannels: nil)
            }
            if i < ch.count - 1 { b.scope("downsamplers.0").sampler(&p, channels: output) }
        }
        midBlock(e.scope("mid_block"), last)
        e.scope("conv_norm_out").norm(&p, channels: last)
        e.scope("conv_out").conv(&p, inChannels: last, outChannels: 2 * latentChannels, kernel: 3)

        let d = PlanScope("decoder.")
        d.scope("conv_in").conv(&p, inChannels: latentChannels, outChannels: rch[0], kernel: 3)
        midBlock(d.scope("mid_block"), rch[0])
        output = rch[0]
        for i in 0..<rch.count {
            let prev = output
            output = rch[i]
            let b = d.scope("up_blocks.\(i)")
            for j in 0..<(layersPerBlock + 1) {
                b.scope("resnets.\(j)").resnet(&p, inChannels: j == 0 ? prev : output, outChannels: output, tembChannels: nil)
            }
            if i < rch.count - 1 { b.scope("upsamplers.0").sampler(&p, channels: output) }
        }
        d.scope("conv_norm_out").norm(&p, channels: ch[0])
        d.scope("conv_out").conv(&p, inChannels: ch[0], outChannels: outChannels, kernel: 3)

        if useQuantConv {
            PlanScope("quant_conv.").conv(&p, inChannels: 2 * latentChannels, outChannels: 2 * latentChannels, kernel: 1)
        }
        if usePostQuantConv {
            PlanScope("post_quant_conv.").conv(&p, inChannels: latentChannels, outChannels: latentChannels, kernel: 1)
        }
        return p
    }
}

extension CLIPTextConfig {
    /// Every parameter `CLIPTextModel` reads under `prefix` ("text_model." or ""), plus `text_projection.weight`
    /// when `withProjection` (CLIPTextModelWithProjection).
    func parameterPlan(prefix: String, withProjection: Bool) -> ParameterPlan {
        var p = ParameterPlan()
        let d = hiddenSize, f = intermediateSize
        let s = PlanScope(prefix)
        s.add(&p, "embeddings.token_embedding.weight", [vocabSize, d])
        s.add(&p, "embeddings.position_embedding.weight", [maxPositionEmbeddings, d])
        for i in 0..<numHiddenLayers {
            let l = s.scope("encoder.layers.\(i)")
            l.scope("layer_norm1").norm(&p, channels: d)
            l.scope("layer_norm2").norm(&p, channels: d)
            for name in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                l.scope("self_attn.\(name)").linear(&p, inFeatures: d, outFeatures: d)
            }
            l.scope("mlp.fc1").linear(&p, inFeatures: d, outFeatures: f)
            l.scope("mlp.fc2").linear(&p, inFeatures: f, outFeatures: d)
        }
        s.scope("final_layer_norm").norm(&p, channels: d)
        if withProjection, let proj = projectionDim { p.add("text_projection.weight", [proj, d]) }
        return p
    }
}
