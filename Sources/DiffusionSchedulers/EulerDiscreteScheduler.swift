import Foundation
import TensorCore

/// Euler sampler of Karras et al. (2022), algorithm 2 with no churn; port of diffusers 0.42.1
/// `EulerDiscreteScheduler` (the SDXL inpainting default).
///
/// Notation: `sigma_i` noise level at inference step i (`sigmas`, with a final 0 appended), `x` the latent
/// in sigma space (`x = x0 + sigma * eps`). The model sees `x / sqrt(sigma^2 + 1)`; one step is
/// `x0_hat = x - sigma * eps_hat`, `d = (x - x0_hat) / sigma`, `x_next = x + d * (sigma_next - sigma)`.
/// Supported config: `beta_schedule` linear/scaled_linear/squaredcos_cap_v2 or `trained_betas`,
/// `prediction_type` epsilon/v_prediction/sample, `timestep_spacing` leading/trailing/linspace,
/// `interpolation_type` linear, `final_sigmas_type` zero/sigma_min, `use_karras_sigmas` (with optional
/// `sigma_min`/`sigma_max`; timesteps then become fractional); exponential and beta sigmas,
/// continuous v-prediction timesteps and zero-SNR rescaling throw `unsupportedConfig`.
///
/// ```swift
/// var euler = try EulerDiscreteScheduler(config: config)
/// try euler.setTimesteps(30)
/// let input = try euler.scaleModelInput(latents, timestep: euler.timesteps[0])
/// ```
public struct EulerDiscreteScheduler: DiffusionScheduler {
    public static let className = "EulerDiscreteScheduler"
    public let config: SchedulerConfig
    public let schedule: TrainingSchedule
    public let predictionType: PredictionType
    public let spacing: TimestepSpacing
    public let stepsOffset: Int
    public let finalSigmaIsMin: Bool
    /// `use_karras_sigmas`: Karras noise levels between the schedule's (or the config's) sigma_min and sigma_max.
    public let useKarrasSigmas: Bool
    public var order: Int { 1 }

    public private(set) var numInferenceSteps: Int?
    public private(set) var timesteps: [Float]
    /// One noise level per timestep plus the final one (0, or the smallest training sigma for "sigma_min").
    public private(set) var sigmas: [Float]
    /// Index into `timesteps` of the next step (diffusers' `step_index`), nil until the first call.
    public private(set) var stepIndex: Int?
    /// diffusers' `begin_index`, set by the pipeline through `setBeginIndex`.
    public private(set) var beginIndex: Int?

    public init(config: SchedulerConfig) throws {
        self.config = config
        schedule = try TrainingSchedule(config: config)
        predictionType = try config.predictionType(allowed: [.epsilon, .vPrediction, .sample])
        spacing = try config.timestepSpacing(default: .linspace)
        stepsOffset = config.stepsOffset ?? 0
        try config.require(.interpolationType, config.interpolationType ?? "linear", in: ["linear"])
        useKarrasSigmas = config.useKarrasSigmas ?? false
        try config.require(.useExponentialSigmas, config.useExponentialSigmas ?? false, in: [false])
        try config.require(.useBetaSigmas, config.useBetaSigmas ?? false, in: [false])
        let timestepType = config.timestepType ?? "discrete"
        try config.require(.timestepType, timestepType, in: predictionType == .vPrediction ? ["discrete"] : ["discrete", "continuous"])
        let finalType = config.finalSigmasType ?? "zero"
        try config.require(.finalSigmasType, finalType, in: ["zero", "sigma_min"])
        finalSigmaIsMin = finalType == "sigma_min"
        // Before set_timesteps diffusers holds the training schedule: timesteps 999...0, sigmas reversed + 0.
        let n = schedule.count
        timesteps = (0..<n).reversed().map { Float($0) }
        sigmas = schedule.sigmas.reversed() + [0]
    }

    public var initNoiseSigma: Float {
        let maxSigma = sigmas.max() ?? 0
        switch spacing {
        case .linspace, .trailing: return maxSigma
        case .leading: return (maxSigma * maxSigma + 1).squareRoot()
        }
    }

    public mutating func setTimesteps(_ steps: Int) throws {
        let trainSteps = schedule.count
        try checkInferenceSteps(steps, trainSteps: trainSteps, scheduler: Self.className)
        var ts: [Float]
        switch spacing {
        case .linspace:
            ts = NumPy.linspace(0, Double(trainSteps - 1), steps).reversed().map { Float($0) }
        case .leading:
            let ratio = trainSteps / steps
            ts = (0..<steps).reversed().map { Float(NumPy.round(Double($0 * ratio))) + Float(stepsOffset) }
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            ts = NumPy.arange(Double(trainSteps), 0, -ratio).map { Float(NumPy.round($0)) - 1 }
        }
        // np.interp over the training sigmas in float64, then float32.
        let trainSigmas = schedule.sigmas
        var sigmas64 = ts.map { NumPy.interpolate(Double($0), trainSigmas) }
        if useKarrasSigmas {
            sigmas64 = KarrasSigmas.sigmas(count: steps, sigmaMin: config.sigmaMin ?? sigmas64[steps - 1],
                                           sigmaMax: config.sigmaMax ?? sigmas64[0])
            let logSigmas = trainSigmas.map { log($0) }
            ts = sigmas64.map { Float(KarrasSigmas.timestep(for: $0, logSigmas: logSigmas)) }
        }
        var newSigmas = sigmas64.map { Float($0) }
        newSigmas.append(finalSigmaIsMin ? trainSigmas[0] : 0)
        numInferenceSteps = steps
        timesteps = ts
        sigmas = newSigmas
        stepIndex = nil
        beginIndex = nil
    }

    public mutating func setBeginIndex(_ index: Int) { beginIndex = index }

    /// diffusers' `index_for_timestep`: the position of `timestep` in the schedule (the second one if it repeats).
    public func index(for timestep: Float) throws -> Int {
        let matches = timesteps.indices.filter { timesteps[$0] == timestep }
        guard let first = matches.first else {
            throw SchedulerError.invalidArgument("\(Self.className): timestep \(timestep) is not in the schedule")
        }
        return matches.count > 1 ? matches[1] : first
    }

    private mutating func initStepIndex(_ timestep: Float) throws {
        if stepIndex == nil { stepIndex = try beginIndex ?? index(for: timestep) }
    }

    public mutating func scaleModelInput(_ sample: Tensor, timestep: Float) throws -> Tensor {
        guard numInferenceSteps != nil else { throw SchedulerError.timestepsNotSet(scheduler: Self.className) }
        try initStepIndex(timestep)
        let sigma = sigmas[stepIndex!]
        let scale = (sigma * sigma + 1).squareRoot()
        return elementwise(sample) { $0 / scale }
    }

    public mutating func step(modelOutput: Tensor, timestep: Float, sample: Tensor) throws -> Tensor {
        guard numInferenceSteps != nil else { throw SchedulerError.timestepsNotSet(scheduler: Self.className) }
        try checkSameShape(modelOutput, sample, "model output")
        try initStepIndex(timestep)
        let i = stepIndex!
        guard i + 1 < sigmas.count else {
            throw SchedulerError.invalidArgument("\(Self.className): step called after the last timestep")
        }
        let sigma = sigmas[i]       // gamma = 0 (no churn), so sigma_hat = sigma
        let dt = sigmas[i + 1] - sigma
        let prev: Tensor
        switch predictionType {
        case .epsilon:
            prev = elementwise(sample, modelOutput) { x, eps in
                let x0 = x - sigma * eps
                return x + (x - x0) / sigma * dt
            }
        case .vPrediction:
            let c = -sigma / (sigma * sigma + 1).squareRoot()
            let s2 = sigma * sigma + 1
            prev = elementwise(sample, modelOutput) { x, v in
                let x0 = v * c + x / s2
                return x + (x - x0) / sigma * dt
            }
        case .sample:
            prev = elementwise(sample, modelOutput) { x, x0 in x + (x - x0) / sigma * dt }
        }
        stepIndex = i + 1
        return prev
    }

    public func addNoise(original: Tensor, noise: Tensor, timestep: Float) throws -> Tensor {
        guard numInferenceSteps != nil else { throw SchedulerError.timestepsNotSet(scheduler: Self.className) }
        try checkSameShape(noise, original, "noise")
        // diffusers: with a begin index set, the current step index (or the begin index) decides, not `timestep`.
        let i: Int
        if beginIndex == nil { i = try index(for: timestep) } else { i = stepIndex ?? beginIndex! }
        let sigma = sigmas[i]
        return elementwise(original, noise) { x, n in x + n * sigma }
    }
}
