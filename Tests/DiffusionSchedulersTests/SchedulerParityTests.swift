import Foundation
import Testing
import TensorCore
import TestSupport
@testable import DiffusionSchedulers

/// Every scheduler against diffusers 0.42.1 (scripts/make_scheduler_fixtures.py): the schedule, the strength
/// start, and the latents after every step of a loop driven by a deterministic stand-in model.
@Suite struct SchedulerParityTests {
    /// Empty if the fixtures fail to load; `fixturesLoad` then fails.
    static let runs = (try? SchedulerFixtures.shared.get().runs) ?? []
    static let tolerance: Float = 1e-5

    @Test func fixturesLoad() throws {
        let fx = try SchedulerFixtures.shared.get()
        #expect(fx.runs.count == 54)
        #expect(Set(fx.runs.map(\.scheduler)) == Set(SchedulerFactory.supportedClassNames))
    }

    @Test(arguments: runs)
    func matchesDiffusers(_ run: FixtureRun) throws {
        let fx = try SchedulerFixtures.shared.get()
        var scheduler = try SchedulerFactory.make(config: run.config, override: run.scheduler)
        #expect(type(of: scheduler).className == run.scheduler)
        #expect(scheduler.order == run.order)

        try scheduler.setTimesteps(run.steps)
        // Integer timesteps match exactly; fractional ones (Euler linspace/Karras) to float32 rounding, since numpy's
        // float32 log (Karras sigma -> t) is not glibc's.
        #expect(sameTimesteps(scheduler.timesteps, run.timesteps), "\(run.name): timesteps \(scheduler.timesteps) vs \(run.timesteps)")
        if let want = run.sigmas {
            let got = (scheduler as? EulerDiscreteScheduler)?.sigmas ?? (scheduler as? DPMSolverMultistepScheduler)?.sigmas
            let sigmaError = zip(try #require(got), want).map { abs($0 - $1) / $1.magnitude.nextUp }.max() ?? 0
            #expect(got?.count == want.count && sigmaError <= 1e-6, "\(run.name): sigmas rel err \(sigmaError)")
        }
        #expect(abs(scheduler.initNoiseSigma - run.initNoiseSigma) <= 1e-6 * run.initNoiseSigma,
                "\(run.name): init_noise_sigma \(scheduler.initNoiseSigma) vs \(run.initNoiseSigma)")

        // Strength: the pipeline's get_timesteps.
        #expect(Strength.startIndex(steps: run.steps, strength: run.strength) == run.tStart)
        let loop = try scheduler.timesteps(strength: run.strength)
        #expect(sameTimesteps(loop, run.loopTimesteps), "\(run.name): loop timesteps \(loop) vs \(run.loopTimesteps)")
        #expect(loop == Array(scheduler.timesteps[(run.tStart * run.order)...]))

        let x0 = try fx.tensor("x0"), noise = try fx.tensor("noise"), eps = try fx.tensor("eps")
        var latents = run.strength == 1.0
            ? elementwise(noise) { $0 * scheduler.initNoiseSigma }
            : try scheduler.addNoise(original: x0, noise: noise, timestep: loop[0])
        var worst: (abs: Float, rel: Float) = relativeError(latents, try fx.tensor("\(run.name)/start"))
        func track(_ e: (abs: Float, rel: Float), _ what: String) {
            #expect(e.rel <= Self.tolerance, "\(run.name): \(what) rel err \(e.rel)")
            worst = (max(worst.abs, e.abs), max(worst.rel, e.rel))
        }
        track(worst, "start")
        for (i, t) in loop.enumerated() {
            let scaled = try scheduler.scaleModelInput(latents, timestep: t)
            if run.scheduler == EulerDiscreteScheduler.className {
                track(relativeError(scaled, try fx.slice("\(run.name)/scaled", i)), "scaled \(i)")
            } else {
                #expect(scaled == latents)
            }
            let c = Float(Double(t) / 1000)
            let modelOutput = elementwise(scaled, eps) { Float(0.3) * $0 + $1 * c }
            latents = try scheduler.step(modelOutput: modelOutput, timestep: t, sample: latents)
            track(relativeError(latents, try fx.slice("\(run.name)/samples", i)), "sample \(i)")
            if i + 1 < loop.count {
                let blend = try scheduler.addNoise(original: x0, noise: noise, timestep: loop[i + 1])
                track(relativeError(blend, try fx.slice("\(run.name)/blends", i)), "blend \(i)")
            }
        }

        // add_noise on a fresh schedule: the index comes from the timestep.
        var fresh = try SchedulerFactory.make(config: run.config, override: run.scheduler)
        try fresh.setTimesteps(run.steps)
        for (k, index) in run.freshNoiseIndices.enumerated() {
            let out = try fresh.addNoise(original: x0, noise: noise, timestep: fresh.timesteps[index])
            track(relativeError(out, try fx.slice("\(run.name)/fresh_noise", k)), "fresh add_noise \(index)")
        }
        print("\(run.name): \(loop.count) steps, max abs err \(worst.abs), max rel err \(worst.rel)")
    }

    func sameTimesteps(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in
            y.rounded() == y ? x == y : abs(x - y) <= 1e-6 * abs(y)
        }
    }

    @Test func trainingTablesMatchTorch() throws {
        let fx = try SchedulerFixtures.shared.get()
        for (schedule, range) in fx.tables {
            var config = SchedulerConfig()
            config.betaSchedule = schedule
            config.betaStart = range.start
            config.betaEnd = range.end
            let table = try TrainingSchedule(config: config)
            let want = try fx.tensor("alphas_cumprod/\(schedule)")
            let e = relativeError(Tensor(shape: [table.count], scalars: table.alphasCumprod), want)
            let worstElement = zip(table.alphasCumprod, want.scalars).map { abs($0 - $1) / $1 }.max() ?? 0
            print("alphas_cumprod \(schedule): max abs err \(e.abs), max element rel err \(worstElement)")
            #expect(worstElement <= 1e-6, "\(schedule)")
        }
    }
}
