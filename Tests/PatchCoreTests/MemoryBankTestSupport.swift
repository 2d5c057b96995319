import Foundation
import MemoryBank
import TensorCore
import Checkpoints
import TestSupport

/// Helpers shared by the MemoryBank*Tests suites.
enum MemoryBankTestData {
    /// (n,d) standard normal values from a seeded SplitMix64 (Box–Muller), as Float.
    static func normal(_ n: Int, _ d: Int, seed: UInt64, scale: Float = 1) -> Tensor {
        var rng = SplitMix64(seed: seed)
        let p = RandomProjection.gaussian(inputDimension: n, outputDimension: d, rng: &rng)
        let s = Float(Double(d).squareRoot()) * scale      // undo the 1/sqrt(d) projection scale
        return Tensor(shape: [n, d], scalars: p.scalars.map { $0 * s })
    }

    /// Clustered data (like patch features): `clusters` blobs of different spread.
    static func clustered(_ n: Int, _ d: Int, clusters: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        let centres = normal(clusters, d, seed: seed &+ 1, scale: 4)
        let noise = normal(n, d, seed: seed &+ 2)
        var out = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            let c = Int(rng.next() % UInt64(clusters))
            let spread = Float(0.2 + Double(c % 5) * 0.3)
            for j in 0..<d { out[i * d + j] = centres.scalars[c * d + j] + spread * noise.scalars[i * d + j] }
        }
        return Tensor(shape: [n, d], scalars: out)
    }

    /// Patch-feature-like bank: `clustered` data with a decaying spectrum (column k scaled by 1/(1 + k/8)), so
    /// its principal axes matter and the first rotated coordinates hold most of each distance.
    static func anisotropic(_ n: Int, _ d: Int, clusters: Int, seed: UInt64, offset: Float = 0) -> Tensor {
        let x = clustered(n, d, clusters: clusters, seed: seed)
        var out = x.scalars
        for i in 0..<n { for k in 0..<d { out[i * d + k] = out[i * d + k] / (1 + Float(k) / 8) + offset } }
        return Tensor(shape: [n, d], scalars: out)
    }

    static func fixtures() throws -> (tensors: [String: Tensor], meta: [String: Any]) {
        let fixtures = FixtureFolder(bundle: .module)
        let tensors = try fixtures.tensors("memorybank_v1.safetensors")
        let json = try fixtures.data("memorybank_v1.json")
        let meta = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        return (tensors, meta)
    }
}
