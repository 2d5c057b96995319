import Foundation
import TensorCore

/// DPM-Solver++ multistep (Lu et al. 2022), "DPM++ 2M"; port of diffusers 0.42.1 `DPMSolverMultistepScheduler`
/// with `algorithm_type = "dpmsolver++"`, `solver_type = "midpoint"`, `solver_order` 1 or 2.
///
/// Notation: for a noise level `sigma`, `alpha_t = 1 / sqrt(sigma^2 + 1)`, `sigma_t = sigma * alpha_t`,
/// `lambda = log(alpha_t) - log(sigma_t)`; `h = lambda_next - lambda_cur`, `h_0 = lambda_cur - lambda_prev`,
/// `r0 = h_0 / h`. The model output becomes a data prediction `m = x0_hat`; first order:
/// `x_next = (sigma_next / sigma_cur) * x - alpha_next * (exp(-h) - 1) * m_0`; second order (midpoint) adds
/// `- 0.5 * alpha_next * (exp(-h) - 1) * (m_0 - m_1) / r0`. The first step is first order, and so is the last one
/// when `final_sigmas_type` is "zero", `euler_at_final` is set, or `lower_order_final` with fewer than 15 steps.
/// Supported config: `prediction_type` epsilon/v_prediction/sample, `timestep_spacing`, `steps_offset`,
/// `final_sigmas_type` zero/sigma_min, `lower_order_final`, `euler_at_final`, `use_karras_sigmas`; other
/// algorithms, solver types, order 3, exponential/beta/Lu/flow sigmas, thresholding, learned variance and a finite
/// `lambda_min_clipped` throw `unsupportedConfig`.
///
/// ```swift
/// var dpm = try DPMSolverMultistepScheduler(config: config)
/// try dpm.setTimesteps(20)
/// ```
public struct DPMSolverMultistepScheduler: DiffusionScheduler {
    public static let className = "DPMSolverMultistepScheduler"
    public let config: SchedulerConfig
    public let schedule: TrainingSchedule
    public let predictionType: PredictionType
    public let spacing: TimestepSpacing
    public let stepsOffset: Int
    public let solverOrder: Int
    public let lowerOrderFinal: Bool
    public let eulerAtFinal: Bool
    public let finalSigmaIsZero: Bool
    /// `use_karras_sigmas`: Karras noise levels between the smallest and largest training sigma ("DPM++ 2M Karras").
    public let useKarrasSigmas: Bool
    public var order: Int { 1 }
    public var initNoiseSigma: Float { 1 }

    public private(set) var numInferenceSteps: Int?
    public private(set) var timesteps: [Float]
    /// One noise level per timestep plus the final one.
    public private(set) var sigmas: [Float]
    public private(set) var stepIndex: Int?
    public private(set) var beginIndex: Int?
    /// Data predictions of the last `solverOrder` steps, newest last (diffusers' `model_outputs`).
    private var modelOutputs: [Tensor?]
    /// Steps taken so far, capped at the solver order (diffusers' `lower_order_nums`).
    private var lowerOrderCount = 0

    public init(config: SchedulerConfig) throws {
        self.config = config
        schedule = try TrainingSchedule(config: config)
        predictionType = try config.predictionType(allowed: [.epsilon, .vPrediction, .sample])
        spacing = try config.timestepSpacing(default: .linspace)
        stepsOffset = config.stepsOffset ?? 0
        solverOrder = config.solverOrder ?? 2
        try config.require(.solverOrder, solverOrder, in: [1, 2])
        try config.require(.algorithmType, config.algorithmType ?? "dpmsolver++", in: ["dpmsolver++"])
        try config.require(.solverType, config.solverType ?? "midpoint", in: ["midpoint"])
        try config.require(.thresholding, config.thresholding ?? false, in: [false])
        useKarrasSigmas = config.useKarrasSigmas ?? false
        for (key, value) in [(SchedulerConfig.CodingKeys.useExponentialSigmas, config.useExponentialSigmas),
                             (.useBetaSigmas, config.useBetaSigmas),
                             (.useLuLambdas, config.useLuLambdas), (.useFlowSigmas, config.useFlowSigmas)] {
            try config.require(key, value ?? false, in: [false])
        }
        if let variance = config.varianceType {
            throw SchedulerError.unsupportedConfig(field: "variance_type", value: variance, file: config.source,
                                                   supported: "null")
        }
        if let clipped = config.lambdaMinClipped, clipped != -Double.infinity {
            throw SchedulerError.unsupportedConfig(field: "lambda_min_clipped", value: "\(clipped)", file: config.source,
                                                   supported: "-inf")
        }
        let finalType = config.finalSigmasType ?? "zero"
        try config.require(.finalSigmasType, finalType, in: ["zero", "sigma_min"])
        finalSigmaIsZero = finalType == "zero"
        lowerOrderFinal = config.lowerOrderFinal ?? true
        eulerAtFinal = config.eulerAtFinal ?? false
        timesteps = (0..<schedule.count).reversed().map { Float($0) }
        sigmas = schedule.sigmas
        modelOutputs = Array(repeating: nil, count: solverOrder)
    }

    public mutating func setTimesteps(_ steps: Int) throws {
        let trainSteps = schedule.count
        try checkInferenceSteps(steps, trainSteps: trainSteps, scheduler: Self.className)
        let last = trainSteps  // lambda_min_clipped = -inf clips nothing
        var ts: [Int]
        switch spacing {
        case .linspace:
            ts = NumPy.linspace(0, Double(last - 1), steps + 1).map { Int(NumPy.round($0)) }.reversed().dropLast()
        case .leading:
            let ratio = last / (steps + 1)
            ts = (0...steps).reversed().dropLast().map { $0 * ratio + stepsOffset }
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            ts = NumPy.arange(Double(last), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }
        let trainSigmas = schedule.sigmas
        guard ts.allSatisfy({ $0 >= 0 && $0 < trainSteps }) else {
            throw SchedulerError.invalidArgument("\(Self.className): steps_offset \(stepsOffset) moves timesteps out of 0..<\(trainSteps)")
        }
        var newSigmas = ts.map { trainSigmas[$0] }  // np.interp at integer points
        if useKarrasSigmas {
            // diffusers reads sigma_min/max from the DPM config, which has no such fields: the table's ends.
            let karras = KarrasSigmas.sigmas(count: steps, sigmaMin: Double(trainSigmas[0]),
                                             sigmaMax: Double(trainSigmas[trainSteps - 1]))
            let logSigmas = trainSigmas.map { log($0) }
            let fractional = karras.map { KarrasSigmas.timestep(for: $0, logSigmas: logSigmas) }
            // Rounded to integers except for the cosine schedule (diffusers keeps those fractional, then casts
            // them to int64, i.e. truncates).
            let cosine = config.betaSchedule == "squaredcos_cap_v2"
            ts = fractional.map { Int(cosine ? $0.rounded(.towardZero) : NumPy.round($0)) }
            newSigmas = karras.map { Float($0) }
        }
        newSigmas.append(finalSigmaIsZero ? 0 : trainSigmas[0])
        numInferenceSteps = steps
        timesteps = ts.map { Float($0) }
        sigmas = newSigmas
        stepIndex = nil
        beginIndex = nil
        modelOutputs = Array(repeating: nil, count: solverOrder)
        lowerOrderCount = 0
    }

    public mutating func setBeginIndex(_ index: Int) { beginIndex = index }

    public mutating func scaleModelInput(_ sample: Tensor, timestep: Float) throws -> Tensor { sample }

    /// diffusers' `index_for_timestep`: the second match if the timestep repeats, the last index if absent.
    public func index(for timestep: Float) -> Int {
        let matches = timesteps.indices.filter { timesteps[$0] == timestep }
        if matches.isEmpty { return timesteps.count - 1 }
        return matches.count > 1 ? matches[1] : matches[0]
    }

    /// `(alpha_t, sigma_t)` of a noise level (diffusers' `_sigma_to_alpha_sigma_t`).
    static func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    static func lambda(_ alphaSigma: (alpha: Float, sigma: Float)) -> Float {
        log(alphaSigma.alpha) - log(alphaSigma.sigma)
    }

    public mutating func step(modelOutput: Tensor, timestep: Float, sample: Tensor) throws -> Tensor {
        guard numInferenceSteps != nil else { throw SchedulerError.timestepsNotSet(scheduler: Self.className) }
        try checkSameShape(modelOutput, sample, "model output")
        if stepIndex == nil { stepIndex = beginIndex ?? index(for: timestep) }
        let i = stepIndex!
        guard i + 1 < sigmas.count else {
            throw SchedulerError.invalidArgument("\(Self.className): step called after the last timestep")
        }
        let n = timesteps.count
        let finalStepLowOrder = i == n - 1 && (eulerAtFinal || (lowerOrderFinal && n < 15) || finalSigmaIsZero)

        // convert_model_output: the data prediction x0_hat.
        let (alphaS, sigmaS) = Self.alphaSigma(sigmas[i])
        let x0: Tensor
        switch predictionType {
        case .epsilon: x0 = elementwise(sample, modelOutput) { x, e in (x - sigmaS * e) / alphaS }
        case .vPrediction: x0 = elementwise(sample, modelOutput) { x, v in alphaS * x - sigmaS * v }
        case .sample: x0 = modelOutput
        }
        for k in 0..<(solverOrder - 1) { modelOutputs[k] = modelOutputs[k + 1] }
        modelOutputs[solverOrder - 1] = x0

        let prev: Tensor
        if solverOrder == 1 || lowerOrderCount < 1 || finalStepLowOrder {
            prev = firstOrderUpdate(x0, sample: sample, index: i)
        } else {
            prev = secondOrderUpdate(m0: x0, m1: modelOutputs[solverOrder - 2]!, sample: sample, index: i)
        }
        if lowerOrderCount < solverOrder { lowerOrderCount += 1 }
        stepIndex = i + 1
        return prev
    }

    /// diffusers' `dpm_solver_first_order_update` (DPM-Solver++ 1, i.e. DDIM in lambda).
    private func firstOrderUpdate(_ m0: Tensor, sample: Tensor, index i: Int) -> Tensor {
        let t = Self.alphaSigma(sigmas[i + 1]), s = Self.alphaSigma(sigmas[i])
        let h = Self.lambda(t) - Self.lambda(s)
        let a = t.sigma / s.sigma
        let b = t.alpha * (exp(-h) - 1)
        return elementwise(sample, m0) { x, m in a * x - b * m }
    }

    /// diffusers' `multistep_dpm_solver_second_order_update`, midpoint form.
    private func secondOrderUpdate(m0: Tensor, m1: Tensor, sample: Tensor, index i: Int) -> Tensor {
        let t = Self.alphaSigma(sigmas[i + 1]), s0 = Self.alphaSigma(sigmas[i]), s1 = Self.alphaSigma(sigmas[i - 1])
        let lambdaT = Self.lambda(t), lambdaS0 = Self.lambda(s0), lambdaS1 = Self.lambda(s1)
        let h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1
        let r0 = h0 / h
        let invR0 = 1 / r0
        let a = t.sigma / s0.sigma
        let b = t.alpha * (exp(-h) - 1)
        let c = 0.5 * b
        let d1 = elementwise(m0, m1) { invR0 * ($0 - $1) }
        var out = elementwise(sample, m0) { x, m in a * x - b * m }
        out = elementwise(out, d1) { $0 - c * $1 }
        return out
    }

    public func addNoise(original: Tensor, noise: Tensor, timestep: Float) throws -> Tensor {
        guard numInferenceSteps != nil else { throw SchedulerError.timestepsNotSet(scheduler: Self.className) }
        try checkSameShape(noise, original, "noise")
        let i: Int
        if beginIndex == nil { i = index(for: timestep) } else { i = stepIndex ?? beginIndex! }
        let (alpha, sigma) = Self.alphaSigma(sigmas[i])
        return elementwise(original, noise) { x, n in alpha * x + sigma * n }
    }
}
