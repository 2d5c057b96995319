import Foundation
import TensorCore

/// Denoising diffusion implicit models (Song et al. 2020), deterministic (eta = 0); port of diffusers 0.42.1
/// `DDIMScheduler`.
///
/// Notation (diffusers' "Notation" block): `alphaBar_t` = `alphas_cumprod[t]`, `t_prev = t - T / steps`
/// (`T` = num_train_timesteps), `alphaBar_prev` = `alphas_cumprod[t_prev]`, or `final_alpha_cumprod`
/// (1 with `set_alpha_to_one`, else `alphas_cumprod[0]`) when `t_prev < 0`. One step:
/// `x0_hat = (x - sqrt(1 - alphaBar_t) * eps) / sqrt(alphaBar_t)`,
/// `x_prev = sqrt(alphaBar_prev) * x0_hat + sqrt(1 - alphaBar_prev) * eps`.
/// Supported config: `prediction_type` epsilon/v_prediction/sample, `clip_sample` (+ `clip_sample_range`),
/// `set_alpha_to_one`, `timestep_spacing`, `steps_offset`; `thresholding` and zero-SNR rescaling throw.
///
/// ```swift
/// var ddim = try DDIMScheduler(config: config)
/// try ddim.setTimesteps(50)
/// let x = try ddim.step(modelOutput: eps, timestep: ddim.timesteps[0], sample: latents)
/// ```
public struct DDIMScheduler: DiffusionScheduler {
    public static let className = "DDIMScheduler"
    public let config: SchedulerConfig
    public let schedule: TrainingSchedule
    public let predictionType: PredictionType
    public let spacing: TimestepSpacing
    public let stepsOffset: Int
    /// `alphaBar` used past the last step.
    public let finalAlphaCumprod: Float
    /// Clamp range of `x0_hat`, nil when `clip_sample` is false.
    public let clipRange: Float?
    public var order: Int { 1 }
    public var initNoiseSigma: Float { 1 }

    public private(set) var numInferenceSteps: Int?
    public private(set) var timesteps: [Float]

    public init(config: SchedulerConfig) throws {
        self.config = config
        schedule = try TrainingSchedule(config: config)
        predictionType = try config.predictionType(allowed: [.epsilon, .vPrediction, .sample])
        spacing = try config.timestepSpacing(default: .leading)
        stepsOffset = config.stepsOffset ?? 0
        try config.require(.thresholding, config.thresholding ?? false, in: [false])
        finalAlphaCumprod = (config.setAlphaToOne ?? true) ? 1 : schedule.alphasCumprod[0]
        clipRange = (config.clipSample ?? true) ? Float(config.clipSampleRange ?? 1) : nil
        timesteps = (0..<schedule.count).reversed().map { Float($0) }
    }

    public mutating func setTimesteps(_ steps: Int) throws {
        let trainSteps = schedule.count
        try checkInferenceSteps(steps, trainSteps: trainSteps, scheduler: Self.className)
        let ts: [Int]
        switch spacing {
        case .linspace:
            ts = NumPy.linspace(0, Double(trainSteps - 1), steps).map { Int(NumPy.round($0)) }.reversed()
        case .leading:
            let ratio = trainSteps / steps
            ts = (0..<steps).reversed().map { $0 * ratio + stepsOffset }
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            ts = NumPy.arange(Double(trainSteps), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }
        numInferenceSteps = steps
        timesteps = ts.map { Float($0) }
    }

    /// DDIM keeps no step counter; diffusers' DDIM has no `set_begin_index`.
    public mutating func setBeginIndex(_ index: Int) {}

    public mutating func scaleModelInput(_ sample: Tensor, timestep: Float) throws -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, timestep: Float, sample: Tensor) throws -> Tensor {
        guard let steps = numInferenceSteps else { throw SchedulerError.timestepsNotSet(scheduler: Self.className) }
        try checkSameShape(modelOutput, sample, "model output")
        let t = try trainingIndex(timestep)
        let tPrev = t - schedule.count / steps
        let alphaT = schedule.alphasCumprod[t]
        let alphaPrev = tPrev >= 0 ? schedule.alphasCumprod[tPrev] : finalAlphaCumprod
        let betaT = 1 - alphaT
        let sqrtAlphaT = alphaT.squareRoot(), sqrtBetaT = betaT.squareRoot()
        // eta = 0: std_dev_t = 0, so the direction coefficient is sqrt(1 - alphaBar_prev - 0).
        let sqrtAlphaPrev = alphaPrev.squareRoot()
        let direction = (1 - alphaPrev - 0).squareRoot()
        let clip = clipRange
        return elementwise(sample, modelOutput) { x, m in
            var x0: Float, eps: Float
            switch self.predictionType {
            case .epsilon:
                x0 = (x - sqrtBetaT * m) / sqrtAlphaT
                eps = m
            case .sample:
                x0 = m
                eps = (x - sqrtAlphaT * x0) / sqrtBetaT
            case .vPrediction:
                x0 = sqrtAlphaT * x - sqrtBetaT * m
                eps = sqrtAlphaT * m + sqrtBetaT * x
            }
            if let r = clip { x0 = min(max(x0, -r), r) }
            return sqrtAlphaPrev * x0 + direction * eps
        }
    }

    public func addNoise(original: Tensor, noise: Tensor, timestep: Float) throws -> Tensor {
        try checkSameShape(noise, original, "noise")
        return try addNoiseAtTrainingStep(schedule, original: original, noise: noise, timestep: timestep, scheduler: Self.className)
    }

    private func trainingIndex(_ timestep: Float) throws -> Int {
        try trainingStep(of: timestep, count: schedule.count, scheduler: Self.className)
    }
}

/// An integer training timestep in `0..<count`, or an error naming the scheduler.
func trainingStep(of timestep: Float, count: Int, scheduler: String) throws -> Int {
    guard timestep.rounded() == timestep, timestep >= 0, timestep < Float(count) else {
        throw SchedulerError.invalidArgument("\(scheduler): timestep \(timestep) is not an integer in 0..<\(count)")
    }
    return Int(timestep)
}

/// `sqrt(alphaBar_t) * x0 + sqrt(1 - alphaBar_t) * noise` (DDPM forward process; DDIM and PNDM `add_noise`).
func addNoiseAtTrainingStep(_ schedule: TrainingSchedule, original: Tensor, noise: Tensor, timestep: Float,
                            scheduler: String) throws -> Tensor {
    let t = try trainingStep(of: timestep, count: schedule.count, scheduler: scheduler)
    let alphaBar = schedule.alphasCumprod[t]
    let a = alphaBar.squareRoot(), b = (1 - alphaBar).squareRoot()
    return elementwise(original, noise) { x, n in a * x + b * n }
}
