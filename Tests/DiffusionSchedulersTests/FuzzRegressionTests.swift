import Foundation
import Testing
import DiffusionSchedulers

/// Hostile scheduler_config.json values of the kinds Fuzz/FuzzDiffusersConfig generates: each must be refused with an
/// error naming the file (at decode, at `SchedulerFactory.make` or at `setTimesteps`), never a trap or a huge
/// allocation. Fuzzer-found files live in bench/fuzz/regressions/FuzzDiffusersConfig/ (`make fuzz-smoke` replays them).
@Suite struct SchedulerFuzzRegressionTests {
    /// Decodes `json`, builds the scheduler it names and asks for 50 steps; returns the error, or nil if all worked.
    func failure(_ json: String, file: String) -> Error? {
        do {
            let config = try SchedulerConfig.decode(Data(json.utf8), source: file)
            var scheduler = try SchedulerFactory.make(config: config)
            try scheduler.setTimesteps(50)
            return nil
        } catch {
            return error
        }
    }

    func expectRefused(_ json: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let file = "fuzz/scheduler_config.json"
        guard let error = failure(json, file: file) else {
            Issue.record("\(what): accepted", sourceLocation: sourceLocation)
            return
        }
        #expect("\(error)".contains(file), "\(what): error does not name the file: \(error)", sourceLocation: sourceLocation)
    }

    @Test func negativeTrainingTimestepsAreRefused() {
        expectRefused(#"{"_class_name": "EulerDiscreteScheduler", "num_train_timesteps": -5}"#, "num_train_timesteps -5")
    }

    @Test func zeroTrainingTimestepsAreRefused() {
        expectRefused(#"{"_class_name": "PNDMScheduler", "num_train_timesteps": 0}"#, "num_train_timesteps 0")
    }

    @Test func emptyTrainedBetasAreRefused() {
        expectRefused(#"{"_class_name": "DDIMScheduler", "trained_betas": [], "num_train_timesteps": 1000}"#, "trained_betas []")
    }

    @Test func solverOrderIntMaxIsRefused() {
        expectRefused(#"{"_class_name": "DPMSolverMultistepScheduler", "solver_order": 9223372036854775807}"#, "solver_order Int.max")
    }
}
