import Foundation
import TensorCore

/// Pseudo numerical methods for diffusion models (Liu et al. 2022) in the PLMS form Stable Diffusion 1.x uses
/// (`skip_prk_steps = true`); port of diffusers 0.42.1 `PNDMScheduler`.
///
/// Notation: `e_k` the model outputs kept in `ets` (newest last), `delta = T / steps`. The schedule repeats the
/// second timestep: step 0 takes a plain step from `x` with `e_0`; step 1 (same timestep) redoes it from the
/// saved `x` with `(e_0 + e_1) / 2`; then linear multistep with 2, 3 and finally 4 outputs:
/// `(3e_1 - e_2) / 2`, `(23e_1 - 16e_2 + 5e_3) / 12`, `(55e_1 - 59e_2 + 37e_3 - 9e_4) / 24`.
/// Each update is the PNDM transfer `x_prev = sqrt(aBar_prev / aBar_t) * x - (aBar_prev - aBar_t) * e /
/// (aBar_t * sqrt(1 - aBar_prev) + sqrt(aBar_t * (1 - aBar_t) * aBar_prev))`.
/// Supported config: `skip_prk_steps` true only (the Runge-Kutta warm-up throws), `prediction_type`
/// epsilon/v_prediction, `set_alpha_to_one`, `timestep_spacing`, `steps_offset`.
///
/// ```swift
/// var pndm = try PNDMScheduler(config: config)   // SD 1.5 inpainting default
/// try pndm.setTimesteps(30)                      // 31 timesteps: the second one twice
/// ```
public struct PNDMScheduler: DiffusionScheduler {
    public static let className = "PNDMScheduler"
    public let config: SchedulerConfig
    public let schedule: TrainingSchedule
    public let predictionType: PredictionType
    public let spacing: TimestepSpacing
    public let stepsOffset: Int
    public let finalAlphaCumprod: Float
    public var order: Int { 1 }
    public var initNoiseSigma: Float { 1 }

    public private(set) var numInferenceSteps: Int?
    public private(set) var timesteps: [Float] = []
    /// Number of `step` calls since `setTimesteps` (diffusers' `counter`).
    public private(set) var counter = 0
    /// Past model outputs, newest last, at most 4 (diffusers' `ets`).
    private var ets: [Tensor] = []
    /// The sample saved at step 0 for step 1 (diffusers' `cur_sample`).
    private var savedSample: Tensor?

    public init(config: SchedulerConfig) throws {
        self.config = config
        schedule = try TrainingSchedule(config: config)
        predictionType = try config.predictionType(allowed: [.epsilon, .vPrediction])
        spacing = try config.timestepSpacing(default: .leading)
        stepsOffset = config.stepsOffset ?? 0
        try config.require(.skipPrkSteps, config.skipPrkSteps ?? false, in: [true])
        finalAlphaCumprod = (config.setAlphaToOne ?? false) ? 1 : schedule.alphasCumprod[0]
    }

    public mutating func setTimesteps(_ steps: Int) throws {
        let trainSteps = schedule.count
        try checkInferenceSteps(steps, trainSteps: trainSteps, scheduler: Self.className)
        // Ascending inference timesteps (diffusers' `_timesteps`).
        let ascending: [Int]
        switch spacing {
        case .linspace:
            ascending = NumPy.linspace(0, Double(trainSteps - 1), steps).map { Int(NumPy.round($0)) }
        case .leading:
            let ratio = trainSteps / steps
            ascending = (0..<steps).map { $0 * ratio + stepsOffset }
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            ascending = NumPy.arange(Double(trainSteps), 0, -ratio).reversed().map { Int(NumPy.round($0)) - 1 }
        }
        // PLMS timesteps: all but the last, the second-to-last again, then the last; reversed.
        let count = ascending.count
        var plms = Array(ascending.dropLast())
        if count >= 2 { plms.append(ascending[count - 2]) }
        if let last = ascending.last { plms.append(last) }
        numInferenceSteps = steps
        timesteps = plms.reversed().map { Float($0) }
        counter = 0
        ets = []
        savedSample = nil
    }

    /// PNDM keeps its own counter; diffusers' PNDM has no `set_begin_index`.
    public mutating func setBeginIndex(_ index: Int) {}

    public mutating func scaleModelInput(_ sample: Tensor, timestep: Float) throws -> Tensor { sample }

    /// diffusers' `step_plms`.
    public mutating func step(modelOutput: Tensor, timestep: Float, sample: Tensor) throws -> Tensor {
        guard let steps = numInferenceSteps else { throw SchedulerError.timestepsNotSet(scheduler: Self.className) }
        try checkSameShape(modelOutput, sample, "model output")
        let delta = schedule.count / steps
        var t = try trainingStep(of: timestep, count: schedule.count, scheduler: Self.className)
        var tPrev = t - delta
        if counter != 1 {
            ets = Array(ets.suffix(3))
            ets.append(modelOutput)
        } else {
            tPrev = t
            t = t + delta
        }
        var x = sample
        let e: Tensor
        if ets.count == 1 && counter == 0 {
            e = modelOutput
            savedSample = sample
        } else if ets.count == 1 && counter == 1 {
            e = elementwise(modelOutput, ets[0]) { ($0 + $1) / 2 }
            x = savedSample ?? sample
            savedSample = nil
        } else if ets.count == 2 {
            e = elementwise(ets[1], ets[0]) { (3 * $0 - $1) / 2 }
        } else if ets.count == 3 {
            let (e1, e2, e3) = (ets[2].scalars, ets[1].scalars, ets[0].scalars)
            e = Tensor(shape: sample.shape, scalars: (0..<e1.count).map { i in
                (23 * e1[i] - 16 * e2[i] + 5 * e3[i]) / 12
            })
        } else {
            let (e1, e2, e3, e4) = (ets[3].scalars, ets[2].scalars, ets[1].scalars, ets[0].scalars)
            let c = Float(1.0 / 24.0)
            e = Tensor(shape: sample.shape, scalars: (0..<e1.count).map { i in
                c * (55 * e1[i] - 59 * e2[i] + 37 * e3[i] - 9 * e4[i])
            })
        }
        let prev = try previousSample(x, t: t, tPrev: tPrev, modelOutput: e)
        counter += 1
        return prev
    }

    /// diffusers' `_get_prev_sample` (formula (9) of the PNDM paper).
    private func previousSample(_ x: Tensor, t: Int, tPrev: Int, modelOutput: Tensor) throws -> Tensor {
        guard t < schedule.count else {
            throw SchedulerError.invalidArgument("\(Self.className): timestep \(t) is past the training schedule")
        }
        let alphaT = schedule.alphasCumprod[t]
        let alphaPrev = tPrev >= 0 ? schedule.alphasCumprod[tPrev] : finalAlphaCumprod
        let betaT = 1 - alphaT
        let betaPrev = 1 - alphaPrev
        var e = modelOutput
        if predictionType == .vPrediction {
            let a = alphaT.squareRoot(), b = betaT.squareRoot()
            e = elementwise(modelOutput, x) { v, s in a * v + b * s }
        }
        let sampleCoeff = (alphaPrev / alphaT).squareRoot()
        let denominator = alphaT * betaPrev.squareRoot() + (alphaT * betaT * alphaPrev).squareRoot()
        let difference = alphaPrev - alphaT
        return elementwise(x, e) { s, m in sampleCoeff * s - difference * m / denominator }
    }

    public func addNoise(original: Tensor, noise: Tensor, timestep: Float) throws -> Tensor {
        try checkSameShape(noise, original, "noise")
        return try addNoiseAtTrainingStep(schedule, original: original, noise: noise, timestep: timestep,
                                          scheduler: Self.className)
    }
}
