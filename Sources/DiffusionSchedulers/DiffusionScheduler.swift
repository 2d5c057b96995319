import TensorCore

/// A noise scheduler as diffusers' pipelines drive it.
///
/// The pipeline owns the denoising loop and calls, in order: `setTimesteps`, then `timesteps(strength:)`
/// (img2img / inpainting start, which also sets the begin index), then per timestep `scaleModelInput`, the model,
/// and `step`. Initial latents are `noise * initNoiseSigma` at strength 1, else `addNoise(original:noise:timestep:)`
/// at the first timestep. Schedulers are values; `step` advances their internal counters (Euler and DPM-Solver's
/// step index, PNDM's PLMS history), so keep one scheduler per image and call `setTimesteps` before each run.
///
/// ```swift
/// var scheduler = try SchedulerFactory.load(configURL: modelDir.appendingPathComponent("scheduler/scheduler_config.json"))
/// try scheduler.setTimesteps(30)
/// let timesteps = try scheduler.timesteps(strength: 0.99)
/// var latents = try scheduler.addNoise(original: imageLatents, noise: noise, timestep: timesteps[0])
/// for t in timesteps {
///     let input = try scheduler.scaleModelInput(latents, timestep: t)
///     let eps = unet(input, t)
///     latents = try scheduler.step(modelOutput: eps, timestep: t, sample: latents)
/// }
/// ```
public protocol DiffusionScheduler: Sendable {
    /// diffusers' class name, e.g. "EulerDiscreteScheduler".
    static var className: String { get }
    /// The config the scheduler was built from.
    var config: SchedulerConfig { get }
    /// diffusers' `order` (model evaluations per inference step); 1 for the four schedulers here.
    var order: Int { get }
    /// The `steps` last passed to `setTimesteps` (the pipeline's `num_inference_steps`), nil before.
    var numInferenceSteps: Int? { get }
    /// The full inference schedule after `setTimesteps`, highest noise first (diffusers' `scheduler.timesteps`;
    /// float32 in Euler, integers in the others, here all as Float).
    var timesteps: [Float] { get }
    /// Standard deviation of the initial noise (`init_noise_sigma`).
    var initNoiseSigma: Float { get }

    /// diffusers' `set_timesteps(num_inference_steps)`; resets the step state.
    mutating func setTimesteps(_ steps: Int) throws
    /// diffusers' `set_begin_index` (Euler, DPM-Solver); a no-op for DDIM and PNDM, which have none.
    mutating func setBeginIndex(_ index: Int)
    /// diffusers' `scale_model_input`: the model's input for `sample` at `timestep`.
    mutating func scaleModelInput(_ sample: Tensor, timestep: Float) throws -> Tensor
    /// diffusers' `step(model_output, timestep, sample).prev_sample`.
    mutating func step(modelOutput: Tensor, timestep: Float, sample: Tensor) throws -> Tensor
    /// diffusers' `add_noise(original_samples, noise, timesteps)` for one timestep.
    func addNoise(original: Tensor, noise: Tensor, timestep: Float) throws -> Tensor
}

/// The start of an img2img / inpainting run (diffusers pipelines' `get_timesteps`, `denoising_start` None).
public enum Strength {
    /// `t_start = max(steps - min(Int(steps * strength), steps), 0)`: how many scheduler steps are skipped.
    public static func startIndex(steps: Int, strength: Double) -> Int {
        let initTimestep = min(Int(Double(steps) * strength), steps)
        return max(steps - initTimestep, 0)
    }
}

extension DiffusionScheduler {
    /// Port of diffusers' inpainting pipelines' `get_timesteps(num_inference_steps, strength)` (SD and SDXL with
    /// `denoising_start=None`): the timesteps from `t_start * order` on, and `set_begin_index(t_start * order)`.
    /// Call after `setTimesteps`. Throws for strength outside [0, 1] or when no step remains (as the pipelines do).
    public mutating func timesteps(strength: Double) throws -> [Float] {
        guard let steps = numInferenceSteps else { throw SchedulerError.timestepsNotSet(scheduler: Self.className) }
        guard strength >= 0, strength <= 1 else {
            throw SchedulerError.invalidArgument("strength must be in [0, 1], got \(strength)")
        }
        let start = Strength.startIndex(steps: steps, strength: strength)
        guard steps - start >= 1 else {
            throw SchedulerError.invalidArgument(
                "strength \(strength) with \(steps) steps leaves no denoising step; raise strength or steps")
        }
        let first = start * order
        setBeginIndex(first)
        return Array(timesteps[first...])
    }
}

// MARK: - Element-wise arithmetic on latents (float32, one rounding per operation, like torch's eager ops)

func checkSameShape(_ a: Tensor, _ b: Tensor, _ what: String) throws {
    guard a.shape == b.shape else { throw SchedulerError.shapeMismatch(what: what, expected: b.shape, actual: a.shape) }
}

/// `f(a[i])` for every element.
func elementwise(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
    Tensor(shape: a.shape, scalars: a.scalars.map(f))
}

/// `f(a[i], b[i])` for every element; shapes must match (checked by the caller).
func elementwise(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    var out = [Float](repeating: 0, count: a.count)
    a.scalars.withUnsafeBufferPointer { pa in
        b.scalars.withUnsafeBufferPointer { pb in
            for i in 0..<out.count { out[i] = f(pa[i], pb[i]) }
        }
    }
    return Tensor(shape: a.shape, scalars: out)
}
