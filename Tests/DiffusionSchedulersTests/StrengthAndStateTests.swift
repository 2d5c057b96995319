import Foundation
import Testing
import TensorCore
import TestSupport
@testable import DiffusionSchedulers

@Suite struct StrengthAndStateTests {
    static func sdxl() throws -> SchedulerConfig { try SchedulerConfig.load(from: fixtures.url("sdxl_inpainting_scheduler_config.json")) }
    static func sd15() throws -> SchedulerConfig { try SchedulerConfig.load(from: fixtures.url("sd15_inpainting_scheduler_config.json")) }

    @Test func startIndexIsThePipelineFormula() {
        #expect(Strength.startIndex(steps: 30, strength: 0.99) == 1)   // int(29.7) = 29
        #expect(Strength.startIndex(steps: 10, strength: 1.0) == 0)
        #expect(Strength.startIndex(steps: 7, strength: 0.6) == 3)     // int(4.2) = 4
        #expect(Strength.startIndex(steps: 50, strength: 0.3) == 35)
        #expect(Strength.startIndex(steps: 4, strength: 0.1) == 4)     // nothing left
    }

    @Test func eulerStrengthSetsBeginIndex() throws {
        var euler = try EulerDiscreteScheduler(config: Self.sdxl())
        try euler.setTimesteps(10)
        let loop = try euler.timesteps(strength: 0.55)   // int(5.5) = 5 -> t_start 5
        #expect(loop == Array(euler.timesteps[5...]))
        #expect(euler.beginIndex == 5 && euler.stepIndex == nil)
        let x = Tensor(repeating: 1, shape: [1, 4, 2, 2])
        _ = try euler.scaleModelInput(x, timestep: loop[0])
        #expect(euler.stepIndex == 5)
        // setTimesteps resets the begin and step indices.
        try euler.setTimesteps(10)
        #expect(euler.beginIndex == nil && euler.stepIndex == nil)
    }

    @Test func pndmStrengthSlicesTheRepeatedSchedule() throws {
        var pndm = try PNDMScheduler(config: Self.sd15())
        try pndm.setTimesteps(10)
        #expect(pndm.timesteps.count == 11 && pndm.timesteps[1] == pndm.timesteps[2])
        let loop = try pndm.timesteps(strength: 0.6)     // t_start 4, order 1: 7 of the 11 timesteps
        #expect(loop == Array(pndm.timesteps[4...]) && loop.count == 7)
    }

    @Test func badStrengthThrows() throws {
        var ddim = try DDIMScheduler(config: Self.sd15())
        #expect(schedulerError { _ = try ddim.timesteps(strength: 0.5) } == .timestepsNotSet(scheduler: "DDIMScheduler"))
        try ddim.setTimesteps(4)
        #expect(schedulerError { _ = try ddim.timesteps(strength: 1.5) } != nil)
        #expect(schedulerError { _ = try ddim.timesteps(strength: 0.1) } != nil)  // no step left
    }

    @Test func misuseThrowsInsteadOfCrashing() throws {
        var euler = try EulerDiscreteScheduler(config: Self.sdxl())
        let x = Tensor(repeating: 1, shape: [1, 4, 2, 2])
        #expect(schedulerError { _ = try euler.step(modelOutput: x, timestep: 1, sample: x) } != nil)
        #expect(schedulerError { try euler.setTimesteps(0) } != nil)
        #expect(schedulerError { try euler.setTimesteps(1001) } != nil)
        try euler.setTimesteps(5)
        #expect(schedulerError { _ = try euler.scaleModelInput(x, timestep: 500) } != nil)  // not in the schedule
        let wrong = Tensor(repeating: 1, shape: [1, 4, 2, 3])
        #expect(schedulerError { _ = try euler.step(modelOutput: wrong, timestep: euler.timesteps[0], sample: x) }
                == .shapeMismatch(what: "model output", expected: [1, 4, 2, 2], actual: [1, 4, 2, 3]))
        for t in euler.timesteps { _ = try euler.step(modelOutput: x, timestep: t, sample: x) }
        #expect(schedulerError { _ = try euler.step(modelOutput: x, timestep: 1, sample: x) } != nil)  // past the end
        var ddim = try DDIMScheduler(config: Self.sd15())
        try ddim.setTimesteps(5)
        #expect(schedulerError { _ = try ddim.addNoise(original: x, noise: x, timestep: 1000) } != nil)
        #expect(schedulerError { _ = try ddim.step(modelOutput: x, timestep: 2.5, sample: x) } != nil)
    }

    @Test func protocolValueDrivesALoop() throws {
        // The pipeline sees `any DiffusionScheduler`; mutating calls work through the existential.
        var scheduler: any DiffusionScheduler = try SchedulerFactory.make(config: Self.sd15(), override: "dpm++2m")
        try scheduler.setTimesteps(6)
        var x = Tensor(repeating: 0.5, shape: [1, 4, 2, 2])
        for t in try scheduler.timesteps(strength: 1.0) {
            let input = try scheduler.scaleModelInput(x, timestep: t)
            x = try scheduler.step(modelOutput: elementwise(input) { $0 * 0.1 }, timestep: t, sample: x)
        }
        #expect(x.scalars.allSatisfy { $0.isFinite })
        #expect((scheduler as? DPMSolverMultistepScheduler)?.stepIndex == 6)
    }
}
