// Findings of the libFuzzer targets in Fuzz/ (bench/FUZZ.md, "Findings"): each trapped, hung or ran out of memory
// on main at b555165; the inputs are in bench/fuzz/regressions/.
import Foundation
import Testing
import DiffusionSchedulers

/// The findings, as tests of the regression suite: they share its `expectRefused`.
extension SchedulerFuzzRegressionTests {
    /// hand-scheduler-num-train-timesteps-1e15.json: TrainingSchedule.torchLinspace (TrainingSchedule.swift:91) asked
    /// for 10^15 floats (ASan: requested allocation size 0xe35fa931a0020 exceeds maximum supported size).
    @Test func trainingTimestepsBeyondASaneRangeAreRefused() {
        expectRefused(#"{"_class_name": "DDIMScheduler", "num_train_timesteps": 1000000000000000}"#, "num_train_timesteps 10^15")
    }

    /// hand-scheduler-steps-offset-intmax.json: `$0 * ratio + stepsOffset` overflowed in DDIMScheduler.setTimesteps
    /// (DDIMScheduler.swift:58, arithmetic overflow trap).
    @Test func stepsOffsetIntMaxIsRefused() {
        expectRefused(#"{"_class_name": "DDIMScheduler", "steps_offset": 9223372036854775807}"#, "steps_offset Int.max")
    }

    /// fuzz-dpmsolver-karras-beta-end-5.json (found by libFuzzer in 90 s, minimised): beta_end 5 makes alphas
    /// negative, the Karras log-sigmas NaN, and `Int(NaN)` trapped in DPMSolverMultistepScheduler.setTimesteps
    /// (DPMSolverMultistepScheduler.swift:113). Betas outside (0, 1) must be refused when the config is read.
    @Test func betaEndAboveOneIsRefused() {
        expectRefused(#"{"_class_name": "DPMSolverMultistepScheduler", "beta_end": 5, "use_karras_sigmas": true}"#,
                      "beta_end 5 with Karras sigmas")
    }

    /// fuzz-euler-karras-beta-end-0.412-smoke.json (found by the 5-second smoke run of `make test`): scaled_linear
    /// betas up to 0.412 drive the float32 cumulative alpha to 0, sigma to infinity, and the Karras timesteps to NaN:
    /// `Int(NaN)` trapped in DPMSolverMultistepScheduler.setTimesteps (DPMSolverMultistepScheduler.swift:113).
    @Test func betasWhoseCumulativeAlphaUnderflowsAreRefused() {
        expectRefused(#"{"_class_name": "EulerDiscreteScheduler", "beta_end": 0.412, "beta_schedule": "scaled_linear", "use_karras_sigmas": true}"#,
                      "beta_end 0.412, scaled_linear")
        expectRefused(#"{"_class_name": "DPMSolverMultistepScheduler", "beta_end": 0.412, "beta_schedule": "scaled_linear", "use_karras_sigmas": true}"#,
                      "beta_end 0.412 through DPM-Solver")
    }
}
