import Foundation
import Testing
import TensorCore
import TestSupport
@testable import DiffusionSchedulers

@Suite struct SchedulerConfigTests {
    @Test func realConfigsPickTheirClass() throws {
        let sd15 = try SchedulerFactory.load(configURL: fixtures.url("sd15_inpainting_scheduler_config.json"))
        #expect(sd15 is PNDMScheduler)
        let sdxl = try SchedulerFactory.load(configURL: fixtures.url("sdxl_inpainting_scheduler_config.json"))
        #expect(sdxl is EulerDiscreteScheduler)
        let euler = try #require(sdxl as? EulerDiscreteScheduler)
        #expect(euler.spacing == .leading && euler.stepsOffset == 1 && euler.predictionType == .epsilon)
        #expect(euler.config.source.hasSuffix("sdxl_inpainting_scheduler_config.json"))
    }

    @Test func overrideByClassNameOrAlias() throws {
        let url = fixtures.url("sd15_inpainting_scheduler_config.json")
        #expect(try SchedulerFactory.load(configURL: url, override: "EulerDiscreteScheduler") is EulerDiscreteScheduler)
        #expect(try SchedulerFactory.load(configURL: url, override: "ddim") is DDIMScheduler)
        #expect(try SchedulerFactory.load(configURL: url, override: "DPM++2M") is DPMSolverMultistepScheduler)
        #expect(try SchedulerFactory.load(configURL: url, override: "pndmscheduler") is PNDMScheduler)
        let error = schedulerError { _ = try SchedulerFactory.load(configURL: url, override: "heun") }
        guard case let .unknownScheduler(name, file, supported)? = error else {
            Issue.record("expected unknownScheduler, got \(String(describing: error))"); return
        }
        #expect(name == "heun" && file == url.path && supported.contains("DDIMScheduler"))
    }

    @Test func unknownClassNameIsNamed() throws {
        let data = Data(#"{"_class_name": "LMSDiscreteScheduler", "num_train_timesteps": 1000}"#.utf8)
        let config = try SchedulerConfig.decode(data, source: "m/scheduler/scheduler_config.json")
        let error = schedulerError { _ = try SchedulerFactory.make(config: config) }
        #expect(error?.description.contains("LMSDiscreteScheduler") == true)
        #expect(error?.description.contains("m/scheduler/scheduler_config.json") == true)
    }

    /// Each unsupported value throws an error naming the field, the value and the file.
    @Test(arguments: [
        ("EulerDiscreteScheduler", #""use_exponential_sigmas": true"#, "use_exponential_sigmas", "true"),
        ("EulerDiscreteScheduler", #""interpolation_type": "log_linear""#, "interpolation_type", "log_linear"),
        ("EulerDiscreteScheduler", #""beta_schedule": "sigmoid""#, "beta_schedule", "sigmoid"),
        ("EulerDiscreteScheduler", #""timestep_spacing": "uniform""#, "timestep_spacing", "uniform"),
        ("EulerDiscreteScheduler", #""rescale_betas_zero_snr": true"#, "rescale_betas_zero_snr", "true"),
        ("EulerDiscreteScheduler", #""final_sigmas_type": "max""#, "final_sigmas_type", "max"),
        ("DDIMScheduler", #""thresholding": true"#, "thresholding", "true"),
        ("DDIMScheduler", #""prediction_type": "flow_prediction""#, "prediction_type", "flow_prediction"),
        ("PNDMScheduler", #""skip_prk_steps": false"#, "skip_prk_steps", "false"),
        ("PNDMScheduler", #""prediction_type": "sample""#, "prediction_type", "sample"),
        ("DPMSolverMultistepScheduler", #""algorithm_type": "sde-dpmsolver++""#, "algorithm_type", "sde-dpmsolver++"),
        ("DPMSolverMultistepScheduler", #""solver_order": 3"#, "solver_order", "3"),
        ("DPMSolverMultistepScheduler", #""solver_type": "heun""#, "solver_type", "heun"),
        ("DPMSolverMultistepScheduler", #""use_lu_lambdas": true"#, "use_lu_lambdas", "true"),
        ("DPMSolverMultistepScheduler", #""use_beta_sigmas": true"#, "use_beta_sigmas", "true"),
        ("DPMSolverMultistepScheduler", #""lambda_min_clipped": -5.1"#, "lambda_min_clipped", "-5.1"),
        ("DPMSolverMultistepScheduler", #""variance_type": "learned_range""#, "variance_type", "learned_range"),
    ])
    func unsupportedValueNamesField(_ scheduler: String, _ entry: String, _ field: String, _ value: String) throws {
        // A valid base (PNDM needs skip_prk_steps) with the one field under test replaced.
        let base = [#""beta_schedule": "scaled_linear""#, #""skip_prk_steps": true"#].filter { !$0.contains("\"\(field)\"") }
        let text = "{\"_class_name\": \"\(scheduler)\", " + (base + [entry]).joined(separator: ", ") + "}"
        let config = try SchedulerConfig.decode(Data(text.utf8), source: "/models/x/scheduler/scheduler_config.json")
        let error = schedulerError { _ = try SchedulerFactory.make(config: config) }
        guard case let .unsupportedConfig(f, v, file, _)? = error else {
            Issue.record("\(scheduler) \(entry): expected unsupportedConfig, got \(String(describing: error))"); return
        }
        #expect(f == field && v == value && file == "/models/x/scheduler/scheduler_config.json")
        let message = error!.description
        #expect(message.contains("unsupported scheduler config: \(field) = \(value) in /models/x/scheduler/scheduler_config.json"),
                "\(message)")
    }

    @Test func pythonInfinityAndUnknownKeysAreAccepted() throws {
        let text = """
        {"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "some_future_key": [1, 2],
         "variance_type": null, "solver_order": 2, "sample_max_value": 1.0, "dynamic_thresholding_ratio": 0.995}
        """
        let config = try SchedulerConfig.decode(Data(text.utf8), source: "dpm.json")
        #expect(config.lambdaMinClipped == -.infinity)
        #expect(try SchedulerFactory.make(config: config) is DPMSolverMultistepScheduler)
    }

    @Test func wrongTypeAndMissingFileAreNamed() throws {
        let error = schedulerError {
            _ = try SchedulerConfig.decode(Data(#"{"num_train_timesteps": "many"}"#.utf8), source: "bad.json")
        }
        guard case let .unreadableConfig(file, reason)? = error else {
            Issue.record("expected unreadableConfig, got \(String(describing: error))"); return
        }
        #expect(file == "bad.json" && reason.contains("num_train_timesteps"))
        let missing = URL(fileURLWithPath: "/nonexistent/scheduler_config.json")
        let missingError = schedulerError { _ = try SchedulerFactory.load(configURL: missing) }
        guard case let .unreadableConfig(missingFile, _)? = missingError else {
            Issue.record("expected unreadableConfig, got \(String(describing: missingError))"); return
        }
        #expect(missingFile == missing.path)
    }

    @Test func classDefaultsFollowDiffusers() throws {
        // An empty config takes each class's own defaults, as diffusers' from_config does.
        let empty = SchedulerConfig()
        #expect(try EulerDiscreteScheduler(config: empty).spacing == .linspace)
        #expect(try DDIMScheduler(config: empty).spacing == .leading)
        #expect(try DDIMScheduler(config: empty).clipRange == 1)
        #expect(try DDIMScheduler(config: empty).finalAlphaCumprod == 1)
        #expect(try DPMSolverMultistepScheduler(config: empty).spacing == .linspace)
        // PNDM's class default is skip_prk_steps = false, which is not implemented.
        #expect(schedulerError { _ = try PNDMScheduler(config: empty) } != nil)
    }
}
