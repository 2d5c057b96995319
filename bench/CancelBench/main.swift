// Cancellation latency of a fit on a real data set: for each stage, a fit is started in a Task and cancelled by its
// own progress report at that stage's first item; prints the seconds from the cancel to the CancellationError.
// swift run -c release CancelBench MANIFEST.csv [--size 224x224] [--stages features,coreset,...]
import Foundation
import PatchCore

final class CancelAt: @unchecked Sendable {
    let stage: ProgressStage
    let lock = NSLock()
    var at: ContinuousClock.Instant?
    init(_ stage: ProgressStage) { self.stage = stage }
    var handler: ProgressHandler {
        { [self] r in
            let now: Bool = lock.withLock {
                guard at == nil, r.stage == stage, r.done >= 1 else { return false }
                at = .now
                return true
            }
            if now { withUnsafeCurrentTask { $0?.cancel() } }
        }
    }
}

let args = CommandLine.arguments
guard args.count >= 2 else { print("usage: CancelBench MANIFEST.csv [--size WxH] [--stages a,b]"); exit(2) }
func option(_ name: String) -> String? { args.firstIndex(of: name).map { args[$0 + 1] } }
ComputeThreads.set(ProcessInfo.processInfo.activeProcessorCount)
let dataset = try DatasetLoader.load(URL(fileURLWithPath: args[1]))
var config = try PatchCorePipeline.defaultConfig(backbone: "mobilenet_v2")
if let size = option("--size"), let t = InputTransform.parseSize(size) { config.transform = t }
let extractor = try FeatureExtractor(config: config, weights: try WeightsCatalog.locate("mobilenet_v2"))
let stages = (option("--stages") ?? "features,positive_features,coreset,positive_coreset,dual_statistics,calibration")
    .split(separator: ",").compactMap { ProgressStage(rawValue: String($0)) }
let good = ImageSource.files(dataset.train.map(\.image))
let options = FitOptions(positives: PositiveExample.trainDefects(of: dataset))
for stage in stages {
    let cancel = CancelAt(stage)
    let task = Task.detached { try PatchCoreTrainer.fit(extractor: extractor, good: good, options: options, progress: cancel.handler) }
    let result = await task.result
    let end = ContinuousClock.now
    let outcome: String
    switch result {
    case .success: outcome = "finished"
    case let .failure(error): outcome = error is CancellationError ? "cancelled" : "\(error)"
    }
    let latency = cancel.at.map { end - $0 }.map { Double($0.components.seconds) + Double($0.components.attoseconds) * 1e-18 }
    print("{\"stage\": \"\(stage.rawValue)\", \"outcome\": \"\(outcome)\", \"seconds_to_stop\": \(latency.map { String(format: "%.4f", $0) } ?? "null")}")
}
