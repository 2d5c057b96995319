import CVectorMath
import Foundation

/// Pointwise nonlinearity fused into kernel epilogues (`conv2d(..., activation:)`) or applied in place.
public enum Activation: Sendable, Equatable {
    /// Identity.
    case none
    /// torch.nn.ReLU: max(x, 0).
    case relu
    /// torch.nn.ReLU6: min(max(x, 0), 6).
    case relu6
    /// torch.nn.SiLU: x * sigmoid(x).
    case silu
    /// torch.nn.Sigmoid: 1 / (1 + exp(-x)).
    case sigmoid
    /// torch.nn.GELU() (exact): x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
    case gelu
    /// torch.nn.GELU(approximate="tanh"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    case geluTanh
    /// CLIP's quick_gelu: x * sigmoid(1.702 x).
    case quickGELU
}

/// Applies `activation` to `count` floats at `p` in place (the exp / erf ones in CVectorMath, with FastMath.swift's
/// fastExp / fastErf formulas at the CPU's widest vector width).
@inline(__always)
func applyActivation(_ activation: Activation, _ p: UnsafeMutablePointer<Float>, count: Int) {
    switch activation {
    case .none:
        return
    case .relu:
        for i in 0..<count { p[i] = Swift.max(p[i], 0) }
    case .relu6:
        for i in 0..<count { p[i] = Swift.min(Swift.max(p[i], 0), 6) }
    case .silu:
        pc_swish(p, count, 1)
    case .sigmoid:
        pc_sigmoid(p, count)
    case .gelu:
        pc_gelu(p, count)
    case .geluTanh:
        for i in 0..<count {
            let v = p[i]
            p[i] = 0.5 * v * (1 + Foundation.tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)))
        }
    case .quickGELU:
        pc_swish(p, count, 1.702)
    }
}
