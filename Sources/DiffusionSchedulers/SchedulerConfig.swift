import Foundation
import TensorCore

/// The fields of diffusers' `scheduler/scheduler_config.json` that the schedulers here read.
///
/// Every field is optional: a missing key takes the default of the scheduler class that reads it (diffusers'
/// `from_config` semantics; e.g. `timestep_spacing` defaults to "leading" for DDIM and PNDM but "linspace" for
/// Euler and DPM-Solver). Unknown keys are ignored. Values are kept as written; each scheduler's initializer
/// checks the ones it uses and throws `SchedulerError.unsupportedConfig` naming the field and value.
///
/// ```swift
/// let config = try SchedulerConfig.load(from: modelDir.appendingPathComponent("scheduler/scheduler_config.json"))
/// var scheduler = try EulerDiscreteScheduler(config: config)
/// ```
public struct SchedulerConfig: Codable, Sendable, Equatable {
    public var className: String?
    public var numTrainTimesteps: Int?
    public var betaStart: Double?
    public var betaEnd: Double?
    public var betaSchedule: String?
    public var trainedBetas: [Double]?
    public var predictionType: String?
    public var timestepSpacing: String?
    public var stepsOffset: Int?
    public var rescaleBetasZeroSnr: Bool?
    // DDIM / PNDM
    public var setAlphaToOne: Bool?
    public var skipPrkSteps: Bool?
    public var clipSample: Bool?
    public var clipSampleRange: Double?
    public var thresholding: Bool?
    // Euler / DPM-Solver sigmas
    public var interpolationType: String?
    public var useKarrasSigmas: Bool?
    public var useExponentialSigmas: Bool?
    public var useBetaSigmas: Bool?
    public var useLuLambdas: Bool?
    public var useFlowSigmas: Bool?
    public var sigmaMin: Double?
    public var sigmaMax: Double?
    public var finalSigmasType: String?
    public var timestepType: String?
    // DPM-Solver
    public var algorithmType: String?
    public var solverType: String?
    public var solverOrder: Int?
    public var lowerOrderFinal: Bool?
    public var eulerAtFinal: Bool?
    public var varianceType: String?
    public var lambdaMinClipped: Double?

    /// Where the config came from, for error messages (not stored in JSON).
    public var source: String = "scheduler config"

    enum CodingKeys: String, CodingKey {
        case className = "_class_name"
        case numTrainTimesteps = "num_train_timesteps"
        case betaStart = "beta_start"
        case betaEnd = "beta_end"
        case betaSchedule = "beta_schedule"
        case trainedBetas = "trained_betas"
        case predictionType = "prediction_type"
        case timestepSpacing = "timestep_spacing"
        case stepsOffset = "steps_offset"
        case rescaleBetasZeroSnr = "rescale_betas_zero_snr"
        case setAlphaToOne = "set_alpha_to_one"
        case skipPrkSteps = "skip_prk_steps"
        case clipSample = "clip_sample"
        case clipSampleRange = "clip_sample_range"
        case thresholding
        case interpolationType = "interpolation_type"
        case useKarrasSigmas = "use_karras_sigmas"
        case useExponentialSigmas = "use_exponential_sigmas"
        case useBetaSigmas = "use_beta_sigmas"
        case useLuLambdas = "use_lu_lambdas"
        case useFlowSigmas = "use_flow_sigmas"
        case sigmaMin = "sigma_min"
        case sigmaMax = "sigma_max"
        case finalSigmasType = "final_sigmas_type"
        case timestepType = "timestep_type"
        case algorithmType = "algorithm_type"
        case solverType = "solver_type"
        case solverOrder = "solver_order"
        case lowerOrderFinal = "lower_order_final"
        case eulerAtFinal = "euler_at_final"
        case varianceType = "variance_type"
        case lambdaMinClipped = "lambda_min_clipped"
    }

    public init(className: String? = nil, source: String = "scheduler config") {
        self.className = className
        self.source = source
    }

    /// Parses a `scheduler_config.json` text. Python's bare `Infinity`, `-Infinity` and `NaN` (which `json.dumps`
    /// writes, e.g. for `lambda_min_clipped`) are accepted.
    public static func decode(_ data: Data, source: String) throws -> SchedulerConfig {
        guard var text = String(data: data, encoding: .utf8) else {
            throw SchedulerError.unreadableConfig(file: source, reason: "not UTF-8 text")
        }
        // Quote Python's non-standard number tokens when they stand as values (`: -Infinity`), so that
        // JSONDecoder's nonConformingFloatDecodingStrategy turns them back into floats.
        for token in ["-Infinity", "Infinity", "NaN"] {
            text = text.replacingOccurrences(of: #"(:\s*)\#(token)(\s*[,}\]])"#, with: "$1\"\(token)\"$2",
                                             options: .regularExpression)
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            var config = try decoder.decode(SchedulerConfig.self, from: Data(text.utf8))
            config.source = source
            try config.validate()
            return config
        } catch let error as DecodingError {
            throw SchedulerError.unreadableConfig(file: source, reason: describe(error))
        } catch let error as SchedulerError {
            throw error
        } catch {
            throw SchedulerError.unreadableConfig(file: source, reason: "not a JSON object")
        }
    }

    /// Reads `scheduler_config.json` from disk (a regular file of at most `InputLimits.current.maxEncodedFileBytes`;
    /// directories, FIFOs and devices are refused by name).
    public static func load(from url: URL) throws -> SchedulerConfig {
        let data: Data
        do { data = try InputFile.read(url) } catch let error as InputFileError {
            throw SchedulerError.unreadableConfig(file: url.path, reason: error.description)
        }
        return try decode(data, source: url.path)
    }

    // MARK: - Ranges

    /// The most training timesteps a config may declare (diffusers' models use 1000; the tables are built eagerly).
    public static let maxTrainTimesteps = 100_000

    /// Checks every numeric field against its documented range, before any table is built:
    ///
    /// | field | allowed |
    /// |---|---|
    /// | `num_train_timesteps` | 2 ... `maxTrainTimesteps` |
    /// | `beta_start`, `beta_end` | finite, 0 <= beta_start <= beta_end < 1 |
    /// | `trained_betas` | at most `maxTrainTimesteps` values, each finite in [0, 1) |
    /// | `steps_offset` | 0 ..< num_train_timesteps |
    /// | `clip_sample_range` | finite, > 0 |
    /// | `sigma_min`, `sigma_max` | finite, > 0, sigma_min <= sigma_max |
    /// | `solver_order` | 1 ... 3 |
    /// | `lambda_min_clipped` | not NaN (-Infinity allowed) |
    ///
    /// Throws `SchedulerError.unsupportedConfig` naming the file, the field, the value and the range. Called by
    /// `decode` / `load` and by `TrainingSchedule(config:)`, so configs built in code are checked too.
    public func validate() throws {
        func fail(_ field: CodingKeys, _ value: CustomStringConvertible, _ range: String) -> SchedulerError {
            .unsupportedConfig(field: field.rawValue, value: value.description, file: source, supported: range)
        }
        let count = numTrainTimesteps ?? 1000
        if let n = numTrainTimesteps, !(2...Self.maxTrainTimesteps).contains(n) {
            throw fail(.numTrainTimesteps, n, "an integer in 2...\(Self.maxTrainTimesteps)")
        }
        let start = betaStart ?? 0.0001, end = betaEnd ?? 0.02
        if let b = betaStart, !(b.isFinite && b >= 0 && b < 1) { throw fail(.betaStart, b, "a finite number in [0, 1)") }
        if let b = betaEnd, !(b.isFinite && b >= 0 && b < 1) { throw fail(.betaEnd, b, "a finite number in [0, 1)") }
        if start > end {
            throw fail(.betaStart, start, "at most beta_end (\(end)); beta_start > beta_end makes the noise decrease")
        }
        if let trained = trainedBetas {
            if trained.count > Self.maxTrainTimesteps {
                throw fail(.trainedBetas, "\(trained.count) values", "at most \(Self.maxTrainTimesteps) values")
            }
            if let i = trained.firstIndex(where: { !($0.isFinite && $0 >= 0 && $0 < 1) }) {
                throw fail(.trainedBetas, "\(trained[i]) at index \(i)", "finite numbers in [0, 1)")
            }
        }
        if let o = stepsOffset, !(0..<count).contains(o) {
            throw fail(.stepsOffset, o, "an integer in 0..<\(count) (num_train_timesteps)")
        }
        if let r = clipSampleRange, !(r.isFinite && r > 0) { throw fail(.clipSampleRange, r, "a finite number > 0") }
        if let s = sigmaMin, !(s.isFinite && s > 0) { throw fail(.sigmaMin, s, "a finite number > 0") }
        if let s = sigmaMax, !(s.isFinite && s > 0) { throw fail(.sigmaMax, s, "a finite number > 0") }
        if let lo = sigmaMin, let hi = sigmaMax, lo > hi { throw fail(.sigmaMin, lo, "at most sigma_max (\(hi))") }
        if let o = solverOrder, !(1...3).contains(o) { throw fail(.solverOrder, o, "1, 2 or 3") }
        if let l = lambdaMinClipped, l.isNaN { throw fail(.lambdaMinClipped, l, "a number or -Infinity, not NaN") }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.isEmpty ? "top level" : keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let .typeMismatch(type, context): return "field \(path(context.codingPath)): expected \(type)"
        case let .valueNotFound(type, context): return "field \(path(context.codingPath)): expected \(type), got null"
        case let .keyNotFound(key, _): return "missing field \(key.stringValue)"
        case let .dataCorrupted(context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    // MARK: - Checks used by the schedulers' initializers

    /// Throws `unsupportedConfig` for `field` unless `value` (the config's or the class default) is allowed.
    func require<T: Equatable & CustomStringConvertible>(_ field: CodingKeys, _ value: T, in allowed: [T]) throws {
        guard allowed.contains(value) else {
            throw SchedulerError.unsupportedConfig(field: field.rawValue, value: value.description, file: source,
                                                   supported: allowed.map(\.description).joined(separator: ", "))
        }
    }
}
