import Foundation
import TensorCore

/// Activation applied in the convolution epilogue.
enum Activation: Sendable {
    case identity, relu, relu6

    @inline(__always)
    func apply(_ v: Float) -> Float {
        switch self {
        case .identity: return v
        case .relu: return max(v, 0)
        case .relu6: return min(max(v, 0), 6)
        }
    }
}

/// Zero padding on each side; TensorFlow "SAME" padding (EfficientNet-Lite) may be asymmetric.
struct Padding: Sendable, Equatable {
    var top: Int, bottom: Int, left: Int, right: Int
    static func symmetric(_ p: Int) -> Padding { Padding(top: p, bottom: p, left: p, right: p) }
}

/// A convolution with eval-mode BatchNorm folded into its weight and bias, and a fused activation:
/// y = act(conv(x, W') + b' [+ residual]).
///
/// Weights are immutable after load. The forward pass picks a kernel by shape:
/// 1x1 stride-1 unpadded -> one sgemm per image straight on the input (no im2col);
/// depthwise (groups == C == O) -> a direct loop over the k x k window;
/// anything else -> im2col + sgemm (Im2colConv.swift); depthwise in DepthwiseConv.swift.
/// `referenceForward` is the naive path every fast path is tested against (FoldedConvTests).
final class FoldedConv: Sendable {
    // weight (O, C/groups, kH, kW), bias (O)
    let weight: [Float]
    let bias: [Float]
    let inChannels: Int, outChannels: Int
    let kernel: Int, stride: Int, groups: Int
    let padding: Padding
    let activation: Activation

    init(weight: [Float], bias: [Float], inChannels: Int, outChannels: Int, kernel: Int, stride: Int,
         groups: Int, padding: Padding, activation: Activation) {
        self.weight = weight; self.bias = bias
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.groups = groups
        self.padding = padding; self.activation = activation
    }

    /// Loads `conv`.weight (O, C/g, k, k) and BatchNorm `bn`.{weight,bias,running_mean,running_var} (O), folding BN.
    static func load(_ r: WeightReader, conv: String, bn: String, inChannels: Int, outChannels: Int, kernel: Int,
                     stride: Int = 1, groups: Int = 1, padding: Padding, eps: Double, activation: Activation) throws -> FoldedConv {
        let w = try r.take("\(conv).weight", shape: [outChannels, inChannels / groups, kernel, kernel])
        let gamma = try r.take("\(bn).weight", shape: [outChannels])
        let beta = try r.take("\(bn).bias", shape: [outChannels])
        let mean = try r.take("\(bn).running_mean", shape: [outChannels])
        let variance = try r.take("\(bn).running_var", shape: [outChannels])
        r.allowUnused("\(bn).num_batches_tracked")
        let folded = localFoldBatchNorm(weight: w.scalars, bias: nil, outChannels: outChannels,
                                        gamma: gamma.scalars, beta: beta.scalars, mean: mean.scalars,
                                        variance: variance.scalars, eps: eps)
        return FoldedConv(weight: folded.weight, bias: folded.bias, inChannels: inChannels, outChannels: outChannels,
                          kernel: kernel, stride: stride, groups: groups, padding: padding, activation: activation)
    }

    /// Output spatial size for an h x w input (may be <= 0 when the input is too small).
    func outputSize(h: Int, w: Int) -> (h: Int, w: Int) {
        let nh = h + padding.top + padding.bottom - kernel, nw = w + padding.left + padding.right - kernel
        return (nh < 0 ? 0 : nh / stride + 1, nw < 0 ? 0 : nw / stride + 1)
    }

    private var isPointwise: Bool { kernel == 1 && stride == 1 && groups == 1 && padding == .symmetric(0) }
    private var isDepthwise: Bool { groups == inChannels && groups == outChannels && groups > 1 }

    /// x (N,C,H,W) -> (N,O,oH,oW); `residual` (N,O,oH,oW) is added before the activation.
    func callAsFunction(_ x: Tensor, residual: Tensor? = nil) throws -> Tensor {
        let (n, h, w) = try checkInput(x, residual: residual)
        let (oh, ow) = outputSize(h: h, w: w)
        let o = outChannels, c = inChannels, plane = oh * ow
        let total = n * o * plane
        let out = [Float](unsafeUninitializedCapacity: total) { po, initialized in
            x.withUnsafeBufferPointer { px in
                weight.withUnsafeBufferPointer { pw in
                    let src = px.baseAddress!, dst = po.baseAddress!, wt = pw.baseAddress!
                    if isDepthwise {
                        depthwise(src, n: n, h: h, w: w, weights: wt, oh: oh, ow: ow, out: dst,
                                  fuseActivation: residual == nil)
                    } else if isPointwise {
                        for b in 0..<n {
                            sgemm(m: o, n: plane, k: c, a: wt, lda: c, b: src + b * c * plane, ldb: plane,
                                  c: dst + b * o * plane, ldc: plane)
                        }
                    } else {
                        im2colGemm(src, n: n, h: h, w: w, weights: wt, oh: oh, ow: ow, out: dst)
                    }
                }
            }
            // The depthwise kernel applies bias and activation itself unless a residual must go in first.
            if !isDepthwise || residual != nil {
                epilogue(dst: po.baseAddress!, n: n, plane: plane, residual: residual, addBias: !isDepthwise)
            }
            initialized = total
        }
        return Tensor(shape: [n, o, oh, ow], scalars: out)
    }

    private func checkInput(_ x: Tensor, residual: Tensor?) throws -> (Int, Int, Int) {
        guard x.rank == 4, x.shape[1] == inChannels else {
            throw BackboneError.badInput(expected: "(N,\(inChannels),H,W)", actual: x.shape)
        }
        let (oh, ow) = outputSize(h: x.shape[2], w: x.shape[3])
        guard oh > 0, ow > 0 else {
            throw BackboneError.inputTooSmall(shape: x.shape, reason: "a \(kernel)x\(kernel)/\(stride) convolution would give an empty output")
        }
        if let residual, residual.shape != [x.shape[0], outChannels, oh, ow] {
            throw BackboneError.badInput(expected: "residual (\(x.shape[0]),\(outChannels),\(oh),\(ow))", actual: residual.shape)
        }
        return (x.shape[0], x.shape[2], x.shape[3])
    }

    // y[b,o,:] = act(y + bias[o] (+ r[b,o,:]))
    private func epilogue(dst: UnsafeMutablePointer<Float>, n: Int, plane: Int, residual: Tensor?, addBias: Bool) {
        let act = activation
        (addBias ? bias : [Float](repeating: 0, count: outChannels)).withUnsafeBufferPointer { pb in
            let rows = n * outChannels, o = outChannels
            if let residual {
                residual.withUnsafeBufferPointer { pr in
                    let r = pr.baseAddress!
                    parallelFor(rows, work: plane) { row in
                        let v = pb[row % o], d = dst + row * plane, rr = r + row * plane
                        switch act {
                        case .identity: for i in 0..<plane { d[i] = d[i] + v + rr[i] }
                        case .relu: for i in 0..<plane { d[i] = max(d[i] + v + rr[i], 0) }
                        case .relu6: for i in 0..<plane { d[i] = min(max(d[i] + v + rr[i], 0), 6) }
                        }
                    }
                }
            } else {
                parallelFor(rows, work: plane) { row in
                    let v = pb[row % o], d = dst + row * plane
                    switch act {
                    case .identity: for i in 0..<plane { d[i] = d[i] + v }
                    case .relu: for i in 0..<plane { d[i] = max(d[i] + v, 0) }
                    case .relu6: for i in 0..<plane { d[i] = min(max(d[i] + v, 0), 6) }
                    }
                }
            }
        }
    }

    /// Naive reference: direct 7-loop convolution in Double, same semantics as `callAsFunction`.
    func referenceForward(_ x: Tensor, residual: Tensor? = nil) throws -> Tensor {
        let (n, h, w) = try checkInput(x, residual: residual)
        let (oh, ow) = outputSize(h: h, w: w)
        let o = outChannels, cg = inChannels / groups, og = outChannels / groups, k = kernel
        var out = Tensor(zeros: [n, o, oh, ow])
        for b in 0..<n {
            for oc in 0..<o {
                let gi = oc / og
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc = Double(bias[oc])
                        for ic in 0..<cg {
                            for ki in 0..<k {
                                for kj in 0..<k {
                                    let iy = oy * stride - padding.top + ki, ix = ox * stride - padding.left + kj
                                    if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                                    acc += Double(weight[((oc * cg + ic) * k + ki) * k + kj]) * Double(x[b, gi * cg + ic, iy, ix])
                                }
                            }
                        }
                        if let residual { acc += Double(residual[b, oc, oy, ox]) }
                        out[b, oc, oy, ox] = activation.apply(Float(acc))
                    }
                }
            }
        }
        return out
    }
}
