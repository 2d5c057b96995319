import Foundation

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
            return config
        } catch let error as DecodingError {
            throw SchedulerError.unreadableConfig(file: source, reason: describe(error))
        }
    }

    /// Reads `scheduler_config.json` from disk.
    public static func load(from url: URL) throws -> SchedulerConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SchedulerError.unreadableConfig(file: url.path, reason: error.localizedDescription)
        }
        return try decode(data, source: url.path)
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
