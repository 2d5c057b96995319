import Foundation

/// What the denoising model predicts (diffusers' `prediction_type`).
public enum PredictionType: String, Sendable, CaseIterable, CustomStringConvertible {
    case epsilon
    case vPrediction = "v_prediction"
    case sample
    public var description: String { rawValue }
}

/// How inference timesteps are spread over the training steps (diffusers' `timestep_spacing`; table 2 of
/// "Common Diffusion Noise Schedules and Sample Steps are Flawed").
public enum TimestepSpacing: String, Sendable, CaseIterable, CustomStringConvertible {
    case leading, trailing, linspace
    public var description: String { rawValue }
}

/// The training noise schedule shared by every scheduler: betas, alphas and their cumulative product.
///
/// Notation (as in diffusers' `scheduling_ddim.py`): `beta_t` noise variance added at step t,
/// `alpha_t = 1 - beta_t`, `alphaBar_t = prod_{s<=t} alpha_s` (`alphas_cumprod`), and the Karras/Euler noise level
/// `sigma_t = sqrt((1 - alphaBar_t) / alphaBar_t)`. Values follow diffusers' float32 arithmetic
/// (torch.linspace in float32, cumulative product accumulated in double and stored as float32).
///
/// ```swift
/// let schedule = try TrainingSchedule(config: config)
/// let alphaBar = schedule.alphasCumprod[999]
/// ```
public struct TrainingSchedule: Sendable, Equatable {
    public let betas: [Float]
    public let alphasCumprod: [Float]

    public var count: Int { betas.count }

    /// Builds the schedule from `num_train_timesteps`, `beta_start`, `beta_end`, `beta_schedule` and
    /// `trained_betas`; the defaults are the ones every diffusers scheduler here shares (1000, 0.0001, 0.02, linear).
    public init(config: SchedulerConfig) throws {
        try config.validate()
        let count = config.numTrainTimesteps ?? 1000
        guard count >= 2 else {
            throw SchedulerError.unsupportedConfig(field: "num_train_timesteps", value: "\(count)",
                                                   file: config.source, supported: "an integer >= 2")
        }
        try config.require(.rescaleBetasZeroSnr, config.rescaleBetasZeroSnr ?? false, in: [false])
        let betas: [Float]
        if let trained = config.trainedBetas {
            guard trained.count == count else {
                throw SchedulerError.unsupportedConfig(field: "trained_betas", value: "\(trained.count) values",
                                                       file: config.source, supported: "\(count) values (num_train_timesteps)")
            }
            betas = trained.map { Float($0) }
        } else {
            let start = config.betaStart ?? 0.0001, end = config.betaEnd ?? 0.02
            let schedule = config.betaSchedule ?? "linear"
            switch schedule {
            case "linear":
                betas = Self.torchLinspace(start, end, count)
            case "scaled_linear":
                betas = Self.torchLinspace(start.squareRoot(), end.squareRoot(), count).map { $0 * $0 }
            case "squaredcos_cap_v2":
                betas = Self.cosineBetas(count)
            default:
                throw SchedulerError.unsupportedConfig(field: "beta_schedule", value: schedule, file: config.source,
                                                       supported: "linear, scaled_linear, squaredcos_cap_v2")
            }
        }
        self.init(betas: betas)
        // Betas near 1 drive the cumulative alpha to 0 in float32, so sigma = sqrt((1 - a) / a) is infinite and
        // every sigma-based step (Karras spacing, Euler, DPM) turns NaN (fuzz finding #13).
        if let bad = sigmas.firstIndex(where: { !$0.isFinite }) {
            throw SchedulerError.unsupportedConfig(
                field: config.trainedBetas != nil ? "trained_betas" : "beta_end", value: config.trainedBetas != nil
                    ? "\(config.trainedBetas!.count) values" : "\(config.betaEnd ?? 0.02)", file: config.source,
                supported: "betas whose cumulative product of (1 - beta) stays above 0 in float32 (it reaches 0 at step \(bad))")
        }
    }

    /// A schedule from explicit betas.
    public init(betas: [Float]) {
        self.betas = betas
        // torch.cumprod on CPU accumulates float32 inputs in double and rounds each output to float32.
        var product = 1.0
        var cumulative = [Float](repeating: 0, count: betas.count)
        for (i, beta) in betas.enumerated() {
            product *= Double(1 - beta)
            cumulative[i] = Float(product)
        }
        alphasCumprod = cumulative
    }

    /// `sigma_t = sqrt((1 - alphaBar_t) / alphaBar_t)` for every training step, in float32 as diffusers computes it.
    public var sigmas: [Float] { alphasCumprod.map { ((1 - $0) / $0).squareRoot() } }

    /// torch.linspace(start, end, count, dtype=float32): a float32 step, the first half counted from `start`
    /// and the second half back from `end`.
    static func torchLinspace(_ start: Double, _ end: Double, _ count: Int) -> [Float] {
        let a = Float(start), b = Float(end)
        let step = (b - a) / Float(count - 1)
        let half = count / 2
        return (0..<count).map { i in i < half ? a + step * Float(i) : b - step * Float(count - 1 - i) }
    }

    /// diffusers' `betas_for_alpha_bar` with the cosine transform ("squaredcos_cap_v2"), max beta 0.999.
    static func cosineBetas(_ count: Int) -> [Float] {
        func alphaBar(_ t: Double) -> Double {
            let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
            return c * c
        }
        return (0..<count).map { i in
            let t1 = Double(i) / Double(count), t2 = Double(i + 1) / Double(count)
            return Float(min(1 - alphaBar(t2) / alphaBar(t1), 0.999))
        }
    }
}

/// numpy helpers used by diffusers' `set_timesteps` (float64 arithmetic, round half to even).
enum NumPy {
    /// np.linspace(start, stop, count) in float64 (endpoint included).
    static func linspace(_ start: Double, _ stop: Double, _ count: Int) -> [Double] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (stop - start) / Double(count - 1)
        var values = (0..<count).map { Double($0) * step + start }
        values[count - 1] = stop
        return values
    }

    /// np.arange(start, stop, step) for a float step: length ceil((stop - start) / step); the values are
    /// start + i * delta with delta = (start + step) - start, as numpy's fill computes them.
    static func arange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let length = max(Int(((stop - start) / step).rounded(.up)), 0)
        let delta = (start + step) - start
        return (0..<length).map { start + Double($0) * delta }
    }

    /// np.round: half to even.
    static func round(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }

    /// np.interp(x, arange(count), values) for x inside [0, count - 1].
    static func interpolate(_ x: Double, _ values: [Float]) -> Double {
        let last = values.count - 1
        if x <= 0 { return Double(values[0]) }
        if x >= Double(last) { return Double(values[last]) }
        let j = Int(x.rounded(.down))
        if Double(j) == x { return Double(values[j]) }
        let slope = Double(values[j + 1]) - Double(values[j])
        return slope * (x - Double(j)) + Double(values[j])
    }
}

extension SchedulerConfig {
    /// The prediction type, with the class default `epsilon`, checked against `allowed`.
    func predictionType(allowed: [PredictionType]) throws -> PredictionType {
        let raw = predictionType ?? "epsilon"
        guard let value = PredictionType(rawValue: raw), allowed.contains(value) else {
            throw SchedulerError.unsupportedConfig(field: "prediction_type", value: raw, file: source,
                                                   supported: allowed.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }

    /// The timestep spacing with the class default.
    func timestepSpacing(default fallback: TimestepSpacing) throws -> TimestepSpacing {
        guard let raw = timestepSpacing else { return fallback }
        guard let value = TimestepSpacing(rawValue: raw) else {
            throw SchedulerError.unsupportedConfig(field: "timestep_spacing", value: raw, file: source,
                                                   supported: "leading, trailing, linspace")
        }
        return value
    }
}

/// Checks shared by the schedulers' `setTimesteps`.
func checkInferenceSteps(_ steps: Int, trainSteps: Int, scheduler: String) throws {
    guard steps >= 1, steps <= trainSteps else {
        throw SchedulerError.invalidArgument(
            "\(scheduler): number of inference steps must be in 1...\(trainSteps) (num_train_timesteps), got \(steps)")
    }
}
