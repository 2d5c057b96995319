import Foundation
import Testing
@testable import DiffusionSchedulers
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11: scheduler_config.json values outside their ranges are refused when the file is parsed, naming the file,
/// the field, the value and the range; none traps or allocates a table of 10^12 entries.
@Suite struct HostileSchedulerConfigTests {
    @Test(arguments: [
        (#""num_train_timesteps": 0"#, "num_train_timesteps"),
        (#""num_train_timesteps": 1"#, "num_train_timesteps"),
        (#""num_train_timesteps": 1000000000000"#, "num_train_timesteps"),
        (#""num_train_timesteps": -5"#, "num_train_timesteps"),
        (#""beta_start": 0.02, "beta_end": 0.0001"#, "beta_start"),
        (#""beta_start": NaN"#, "beta_start"),
        (#""beta_end": Infinity"#, "beta_end"),
        (#""beta_end": 1.5"#, "beta_end"),
        (#""beta_start": -0.1"#, "beta_start"),
        (#""steps_offset": -1"#, "steps_offset"),
        (#""steps_offset": 1000"#, "steps_offset"),
        (#""steps_offset": 9223372036854775807"#, "steps_offset"),
        (#""num_train_timesteps": 4, "trained_betas": [0.1, 0.2, 1.0, 0.3]"#, "trained_betas"),
        (#""num_train_timesteps": 2, "trained_betas": [0.1, -0.5]"#, "trained_betas"),
        (#""clip_sample_range": 0"#, "clip_sample_range"),
        (#""sigma_min": 5, "sigma_max": 1"#, "sigma_min"),
        (#""sigma_max": -Infinity"#, "sigma_max"),
        (#""solver_order": 0"#, "solver_order"),
        (#""solver_order": 100000"#, "solver_order"),
        (#""lambda_min_clipped": NaN"#, "lambda_min_clipped"),
    ])
    func outOfRangeValuesAreRefusedWhenParsed(_ entry: String, _ field: String) {
        let text = #"{"_class_name": "EulerDiscreteScheduler", "# + entry + "}"
        let error = schedulerError { _ = try SchedulerConfig.decode(Data(text.utf8), source: "/m/scheduler/scheduler_config.json") }
        guard case let .unsupportedConfig(f, _, file, supported)? = error else {
            Issue.record("\(entry): expected unsupportedConfig, got \(String(describing: error))"); return
        }
        #expect(f == field && file == "/m/scheduler/scheduler_config.json" && !supported.isEmpty, "\(error!)")
    }

    @Test func configsBuiltInCodeAreCheckedByTheSchedule() {
        var config = SchedulerConfig(className: "DDIMScheduler", source: "in code")
        config.numTrainTimesteps = Int.max
        #expect(throws: SchedulerError.self) { try TrainingSchedule(config: config) }
        config.numTrainTimesteps = 1000
        config.betaStart = .nan
        #expect(throws: SchedulerError.self) { try SchedulerFactory.make(config: config) }
    }

    @Test func unknownNamesAndWrongTypesAreNamed() {
        for (entry, field) in [(#""beta_schedule": "exotic""#, "beta_schedule"),
                               (#""prediction_type": "x0""#, "prediction_type")] {
            let text = #"{"_class_name": "DDIMScheduler", "# + entry + "}"
            let error = schedulerError {
                _ = try SchedulerFactory.make(config: try SchedulerConfig.decode(Data(text.utf8), source: "s.json"))
            }
            guard case let .unsupportedConfig(f, _, file, _)? = error else {
                Issue.record("\(entry): got \(String(describing: error))"); continue
            }
            #expect(f == field && file == "s.json")
        }
        for text in ["[1, 2]", "{\"steps_offset\": ", "\u{FF}\u{FE}", "{\"steps_offset\": [1]}"] {
            let error = schedulerError { _ = try SchedulerConfig.decode(Data(text.utf8), source: "s.json") }
            guard case let .unreadableConfig(file, reason)? = error else {
                Issue.record("\(text): got \(String(describing: error))"); continue
            }
            #expect(file == "s.json" && !reason.contains("Error Domain"), "\(reason)")
        }
    }

    @Test func aFIFOOrFolderIsRefusedWithoutBlocking() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sched-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("scheduler_config.json")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let error = schedulerError { _ = try SchedulerFactory.load(configURL: fifo) }
        guard case let .unreadableConfig(file, reason)? = error else {
            Issue.record("expected unreadableConfig, got \(String(describing: error))"); return
        }
        #expect(file == fifo.path && reason.contains("FIFO"))
        let folderError = schedulerError { _ = try SchedulerFactory.load(configURL: dir) }
        guard case let .unreadableConfig(_, folderReason)? = folderError else {
            Issue.record("expected unreadableConfig, got \(String(describing: folderError))"); return
        }
        #expect(folderReason.contains("directory"))
    }
}
