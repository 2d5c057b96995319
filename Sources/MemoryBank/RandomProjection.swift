import Foundation
import TensorCore

/// Dense Gaussian random projection (Johnson–Lindenstrauss) used before the greedy coreset.
public enum RandomProjection {
    /// P (inputDimension, outputDimension), row-major, entries N(0, 1/outputDimension).
    ///
    /// Entries are drawn in row-major order by Box–Muller pairs: u1 = 1 - nextUnit() in (0,1],
    /// u2 = nextUnit(), rho = sqrt(-2 ln u1); z0 = rho cos(2 pi u2), z1 = rho sin(2 pi u2), both used, in
    /// Double, then scaled by 1/sqrt(outputDimension) and rounded to Float.
    ///
    /// ```swift
    /// var rng = SplitMix64(seed: 0)
    /// let p = RandomProjection.gaussian(inputDimension: 768, outputDimension: 128, rng: &rng) // (768,128)
    /// ```
    public static func gaussian(inputDimension: Int, outputDimension: Int, rng: inout SplitMix64) -> Tensor {
        let count = inputDimension * outputDimension
        var values = [Float](repeating: 0, count: count)
        let scale = 1.0 / Double(outputDimension).squareRoot()
        var i = 0
        while i < count {
            let u1 = 1.0 - rng.nextUnit()
            let u2 = rng.nextUnit()
            let rho = (-2.0 * log(u1)).squareRoot()
            values[i] = Float(rho * cos(2.0 * Double.pi * u2) * scale)
            if i + 1 < count { values[i + 1] = Float(rho * sin(2.0 * Double.pi * u2) * scale) }
            i += 2
        }
        return Tensor(shape: [inputDimension, outputDimension], scalars: values)
    }

    /// x (N,D) x P (D,d) -> (N,d), through sgemm.
    public static func project(_ x: Tensor, with p: Tensor) -> Tensor { matmul(x, p) }
}
