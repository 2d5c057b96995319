import Foundation

/// Noise levels of Karras et al. (2022), eq. (5), and the inverse map from a noise level to a (fractional)
/// training timestep; ports of diffusers' `_convert_to_karras` and `_sigma_to_t` (float64, as numpy computes).
///
/// `sigma_i = (sigmaMax^(1/rho) + i / (n - 1) * (sigmaMin^(1/rho) - sigmaMax^(1/rho)))^rho`, rho = 7.
///
/// ```swift
/// let sigmas = KarrasSigmas.sigmas(count: 30, sigmaMin: 0.0292, sigmaMax: 14.6146)
/// let t = KarrasSigmas.timestep(for: sigmas[3], logSigmas: schedule.sigmas.map { log($0) })
/// ```
public enum KarrasSigmas {
    public static let rho = 7.0

    /// `count` noise levels from `sigmaMax` down to `sigmaMin`.
    public static func sigmas(count: Int, sigmaMin: Double, sigmaMax: Double) -> [Double] {
        let minInvRho = pow(sigmaMin, 1 / rho), maxInvRho = pow(sigmaMax, 1 / rho)
        return NumPy.linspace(0, 1, count).map { ramp in pow(maxInvRho + ramp * (minInvRho - maxInvRho), rho) }
    }

    /// The fractional training timestep whose log-sigma `sigma` falls on, by linear interpolation between the two
    /// neighbouring entries of `logSigmas` (ascending, float32 as diffusers keeps them), clamped to the table.
    public static func timestep(for sigma: Double, logSigmas: [Float]) -> Double {
        let logSigma = log(max(sigma, 1e-10))
        // Last index whose log-sigma is <= logSigma (0 if none), at most count - 2.
        var low = 0
        for (i, value) in logSigmas.enumerated() where logSigma - Double(value) >= 0 { low = i }
        low = min(low, logSigmas.count - 2)
        let lowValue = Double(logSigmas[low]), highValue = Double(logSigmas[low + 1])
        let w = min(max((lowValue - logSigma) / (lowValue - highValue), 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }
}
