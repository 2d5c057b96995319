import Foundation
import PatchCore

/// The demo data set (seed 7, as `make demo`) written once per test process, and the cached MobileNetV2 weights
/// (`make test` fetches them first).
enum LibraryFixture {
    struct Shared: Sendable {
        let data: Dataset
        let weights: URL
    }

    private static let cached: Result<Shared, any Error> = Result {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("patchcore-library-\(UUID().uuidString)")
        return Shared(data: try DemoDataset.generate(at: root, seed: 7), weights: try WeightsCatalog.locate("mobilenet_v2"))
    }

    static func shared() throws -> Shared { try cached.get() }

    static func config(coresetRatio: Double = 0.05, seed: UInt64 = 0) throws -> PatchCoreConfig {
        var config = try PatchCorePipeline.defaultConfig(backbone: "mobilenet_v2")
        config.coresetRatio = coresetRatio
        config.seed = seed
        return config
    }

    static func extractor(_ config: PatchCoreConfig) throws -> FeatureExtractor {
        try FeatureExtractor(config: config, weights: shared().weights)
    }

    /// Defect images of another demo seed with their masks, written as files (the positive bank reads files).
    static func positives(count: Int) throws -> [PositiveExample] {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("patchcore-positives-\(UUID().uuidString)")
        let ds = try DemoDataset.generate(at: root, seed: 11, trainCount: 1, testGoodCount: 0, testDefectCount: count)
        return ds.samples.filter { $0.label == .defect }.map {
            PositiveExample(image: $0.image, mask: $0.mask!, source: PositiveSource(kind: .folder, path: root.path))
        }
    }
}

/// Collects progress reports from the fitting thread.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [ProgressReport] = []

    var handler: ProgressHandler { { [self] r in lock.withLock { reports.append(r) } } }

    var all: [ProgressReport] { lock.withLock { reports } }
}

/// A progress handler that cancels the task it runs in at the first item of `stage` and remembers when.
final class CancelAtStage: @unchecked Sendable {
    let stage: ProgressStage
    private let lock = NSLock()
    private var at: ContinuousClock.Instant?
    private var last: ProgressStage?

    init(_ stage: ProgressStage) { self.stage = stage }

    var cancelledAt: ContinuousClock.Instant? { lock.withLock { at } }
    var lastStage: ProgressStage? { lock.withLock { last } }

    var handler: ProgressHandler {
        { [self] report in
            let cancelNow: Bool = lock.withLock {
                last = report.stage
                guard at == nil, report.stage == stage, report.done >= 1 else { return false }
                at = .now
                return true
            }
            if cancelNow { withUnsafeCurrentTask { $0?.cancel() } }
        }
    }
}
