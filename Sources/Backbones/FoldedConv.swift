import Foundation
import TensorCore

/// A backbone convolution with eval-mode BatchNorm folded into its weight and bias and a fused activation:
/// y = act(conv(x, W') + b' [+ residual]), run by TensorCore's `PreparedConv2d` (weights laid out once at load).
///
/// This type only adds what a model needs around the kernel: loading and BN folding by state-dict name, and
/// input checks that throw `BackboneError` (a wrong image size is a user error, not a programmer error).
///
/// ```swift
/// let c = try FoldedConv.load(reader, conv: "conv1", bn: "bn1", inChannels: 3, outChannels: 64, kernel: 7,
///                             parameters: .init(stride: 2, padding: 3), eps: 1e-5, activation: .relu)
/// let y = try c(x)   // (N,3,224,224) -> (N,64,112,112)
/// ```
struct FoldedConv: Sendable {
    let conv: PreparedConv2d

    init(weight: Tensor, bias: Tensor, _ parameters: Conv2dParameters, activation: Activation) {
        conv = PreparedConv2d(weight: weight, bias: bias, parameters, activation: activation)
    }

    /// Loads `conv`.weight (O, C/g, k, k) and BatchNorm `bn`.{weight,bias,running_mean,running_var} (O), folding BN.
    static func load(_ r: WeightReader, conv: String, bn: String, inChannels: Int, outChannels: Int, kernel: Int,
                     parameters: Conv2dParameters = .init(), eps: Float, activation: Activation) throws -> FoldedConv {
        let w = try r.take("\(conv).weight", shape: [outChannels, inChannels / parameters.groups, kernel, kernel])
        let gamma = try r.take("\(bn).weight", shape: [outChannels])
        let beta = try r.take("\(bn).bias", shape: [outChannels])
        let mean = try r.take("\(bn).running_mean", shape: [outChannels])
        let variance = try r.takeVariance("\(bn).running_var", shape: [outChannels])
        r.allowUnused("\(bn).num_batches_tracked")
        let folded = foldBatchNorm(convWeight: w, convBias: nil, gamma: gamma, beta: beta,
                                   runningMean: mean, runningVar: variance, eps: eps)
        return FoldedConv(weight: folded.weight, bias: folded.bias, parameters, activation: activation)
    }

    /// x (N,C,H,W) -> (N,O,oH,oW); `residual` (N,O,oH,oW) is added before the activation.
    func callAsFunction(_ x: Tensor, residual: Tensor? = nil) throws -> Tensor {
        guard x.rank == 4, x.shape[1] == conv.inChannels else {
            throw BackboneError.badInput(expected: "(N,\(conv.inChannels),H,W)", actual: x.shape)
        }
        let (oh, ow) = conv.outputSize(h: x.shape[2], w: x.shape[3])
        guard oh > 0, ow > 0 else {
            let k = conv.weightShape[2]
            throw BackboneError.inputTooSmall(shape: x.shape,
                                              reason: "a \(k)x\(k)/\(conv.parameters.stride.h) convolution would give an empty output")
        }
        if let residual, residual.shape != [x.shape[0], conv.outChannels, oh, ow] {
            throw BackboneError.badInput(expected: "residual (\(x.shape[0]),\(conv.outChannels),\(oh),\(ow))", actual: residual.shape)
        }
        return conv(x, residual: residual)
    }
}
