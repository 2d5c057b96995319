import Foundation
import Testing
import TensorCore
import Checkpoints
import TestSupport
@testable import DiffusionSchedulers

/// Fixtures written by scripts/make_scheduler_fixtures.py.
let fixtures = FixtureFolder(bundle: .module)

/// One recorded diffusers run (see the script's docstring).
struct FixtureRun: Sendable, CustomTestStringConvertible {
    let name: String
    let scheduler: String
    let config: SchedulerConfig
    let steps: Int
    let strength: Double
    let order: Int
    let timesteps: [Float]
    let sigmas: [Float]?
    let initNoiseSigma: Float
    let tStart: Int
    let beginIndex: Int?
    let loopTimesteps: [Float]
    let freshNoiseIndices: [Int]
    var testDescription: String { name }
}

/// The parsed schedulers.json + schedulers.safetensors, loaded once.
struct SchedulerFixtures: Sendable {
    let runs: [FixtureRun]
    let tensors: [String: Tensor]
    let tables: [String: (start: Double, end: Double)]

    /// Loaded once; `try SchedulerFixtures.shared.get()`.
    static let shared = Result { try load() }

    static func load() throws -> SchedulerFixtures {
        let json = try JSONSerialization.jsonObject(with: fixtures.data("schedulers.json")) as! [String: Any]
        var runs: [FixtureRun] = []
        for r in json["runs"] as! [[String: Any]] {
            let name = r["name"] as! String
            let configData = try JSONSerialization.data(withJSONObject: r["config"]!)
            let config = try SchedulerConfig.decode(configData, source: "\(name) config")
            let floats = { (key: String) -> [Float]? in (r[key] as? [Double])?.map { Float($0) } }
            runs.append(FixtureRun(
                name: name, scheduler: r["scheduler"] as! String, config: config, steps: r["steps"] as! Int,
                strength: r["strength"] as! Double, order: r["order"] as! Int, timesteps: floats("timesteps")!,
                sigmas: floats("sigmas"), initNoiseSigma: Float(r["init_noise_sigma"] as! Double),
                tStart: r["t_start"] as! Int, beginIndex: r["begin_index"] as? Int,
                loopTimesteps: floats("loop_timesteps")!, freshNoiseIndices: r["fresh_noise_indices"] as! [Int]))
        }
        var tables: [String: (Double, Double)] = [:]
        for (k, v) in json["tables"] as! [String: [String: Double]] { tables[k] = (v["beta_start"]!, v["beta_end"]!) }
        let tensors = try fixtures.tensors("schedulers.safetensors")
        return SchedulerFixtures(runs: runs, tensors: tensors, tables: tables)
    }

    func tensor(_ key: String) throws -> Tensor {
        guard let t = tensors[key] else { throw FixtureMissing(key: key) }
        return t
    }

    /// Element `i` of a tensor stacked along a new leading axis.
    func slice(_ key: String, _ i: Int) throws -> Tensor {
        let stacked = try tensor(key)
        let shape = Array(stacked.shape.dropFirst())
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, scalars: Array(stacked.scalars[(i * n)..<((i + 1) * n)]))
    }
}

struct FixtureMissing: Error { let key: String }

/// Runs `body` and returns the SchedulerError it throws (nil if it returned or threw something else).
func schedulerError(_ body: () throws -> Void) -> SchedulerError? {
    do { try body() } catch let e as SchedulerError { return e } catch { return nil }
    return nil
}
