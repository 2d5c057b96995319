import Foundation
import Checkpoints
import TensorCore

/// Deterministic "random" weights for every parameter and buffer a backbone reads, from a counter-based hash,
/// so parity fixtures need no weight files and speed benchmarks can run full-size models.
///
/// Value i of tensor `key`: r = splitmix64(fnv1a64(key) ^ seed &+ i &* 0x9E3779B97F4A7C15), u = (r >> 40) / 2^24
/// in [0, 1), scaled by the key's role:
/// - conv / linear `*.weight` (rank >= 2): uniform(-b, b), b = sqrt(6 / fan_in) (kaiming-uniform, ReLU gain);
/// - rank-1 `*.weight` (BatchNorm gamma) and `*.running_var`: uniform(0.5, 1.5);
/// - everything else (`*.bias`, `*.running_mean`): uniform(-0.1, 0.1).
/// `scripts/make_backbone_fixtures.py` implements the same generator to fill the PyTorch models.
///
/// ```swift
/// let sd = try SyntheticWeights.stateDict(for: "resnet50", seed: 7)
/// let net = try BackboneRegistry.make("resnet50", weights: sd)
/// ```
public enum SyntheticWeights {
    /// Every tensor the named backbone reads, generated from `seed`.
    public static func stateDict(for name: String, seed: UInt64) throws -> StateDict {
        let reader = WeightReader(syntheticSeed: seed)
        _ = try BackboneRegistry.build(name, reader: reader)
        return StateDict(file: "synthetic:\(name):seed=\(seed)", tensors: reader.read)
    }

    /// One generated tensor (see the type's documentation for the distribution).
    public static func tensor(name: String, shape: [Int], seed: UInt64) -> Tensor {
        let count = shape.reduce(1, *)
        let (lo, hi) = range(name: name, shape: shape)
        let span = hi - lo
        let h = fnv1a64(name) ^ seed
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let r = splitmix64(h &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
            let u = Float(r >> 40) / 16_777_216  // exact: 24-bit integer / 2^24
            out[i] = lo + span * u
        }
        return Tensor(shape: shape, scalars: out)
    }

    static func range(name: String, shape: [Int]) -> (Float, Float) {
        if name.hasSuffix(".weight"), shape.count >= 2 {
            let fanIn = shape.dropFirst().reduce(1, *)
            let b = (Float(6) / Float(fanIn)).squareRoot()
            return (-b, b)
        }
        if name.hasSuffix(".running_var") || (name.hasSuffix(".weight") && shape.count == 1) { return (0.5, 1.5) }
        return (-0.1, 0.1)
    }

    /// FNV-1a, 64-bit, over the UTF-8 bytes.
    static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in s.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    /// splitmix64 output function for state `x` (one step: add the golden gamma, then mix).
    static func splitmix64(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
