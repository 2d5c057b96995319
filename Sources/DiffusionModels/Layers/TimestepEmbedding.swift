import Foundation
import TensorCore

/// Port of diffusers embeddings.py `get_timestep_embedding` (max_period 10000, scale 1), computed in Float as
/// torch does: t (N) -> (N, dim), frequencies exp(-ln(10000) * i / (dim/2 - shift)), [sin | cos], or [cos | sin]
/// with `flipSinToCos`; an odd `dim` gets a zero last column.
///
/// ```swift
/// let e = timestepEmbedding([999, 999], dim: 320, flipSinToCos: true, shift: 0)   // (2, 320)
/// ```
public func timestepEmbedding(_ timesteps: [Float], dim: Int, flipSinToCos: Bool, shift: Float) -> Tensor {
    let half = dim / 2
    let logPeriod = Float(Foundation.log(10000.0))
    let freqs = (0..<half).map { Foundation.exp(-logPeriod * Float($0) / (Float(half) - shift)) }
    var out = Tensor(zeros: [timesteps.count, dim])
    for (n, t) in timesteps.enumerated() {
        for i in 0..<half {
            let arg = t * freqs[i]
            let (s, c) = (Foundation.sin(arg), Foundation.cos(arg))
            out[n, i] = flipSinToCos ? c : s
            out[n, half + i] = flipSinToCos ? s : c
        }
    }
    return out
}

/// Port of diffusers embeddings.py `TimestepEmbedding` (act "silu", no cond projection, no post act):
/// linear_2(silu(linear_1(x))).
struct TimestepEmbedding: Sendable {
    let linear1, linear2: LinearLayer

    init(_ w: WeightScope, inChannels: Int, embedDim: Int) throws {
        linear1 = try LinearLayer(w.scope("linear_1"), inFeatures: inChannels, outFeatures: embedDim)
        linear2 = try LinearLayer(w.scope("linear_2"), inFeatures: embedDim, outFeatures: embedDim)
    }

    /// x (N, in) -> (N, embedDim)
    func callAsFunction(_ x: Tensor) -> Tensor { linear2(linear1(x, activation: .silu)) }
}
