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
}

/// Applies `activation` to `count` floats at `p` in place.
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
        for i in 0..<count { let v = p[i]; p[i] = v / (1 + Foundation.exp(-v)) }
    case .sigmoid:
        for i in 0..<count { p[i] = 1 / (1 + Foundation.exp(-p[i])) }
    }
}
