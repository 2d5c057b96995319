import Foundation

/// A long step of fitting or evaluating, as reported to a `ProgressHandler`.
public enum ProgressStage: String, Sendable, Codable, CaseIterable {
    /// Backbone features of the good images that build the normal bank.
    case features
    /// Backbone features of the isolated defect regions (PatchCoreDual's positive bank).
    case positiveFeatures = "positive_features"
    /// Backbone features of the defect images whose normal areas join the normal bank (`DefectNormalAreas`).
    case defectNormalAreas = "defect_normal_areas"
    /// Greedy coreset of the normal patches.
    case coreset
    /// Greedy coreset of the defect patches.
    case positiveCoreset = "positive_coreset"
    /// Training images' s_N and s_P for the `log_ratio` rule's statistics.
    case dualStatistics = "dual_statistics"
    /// Scoring the held-out good images that set the threshold.
    case calibration
    /// Scoring test images.
    case evaluation
}

/// One progress report: `done` of `total` items of `stage`, at `rate` items per second since the stage began.
public struct ProgressReport: Sendable, Equatable, CustomStringConvertible {
    public var stage: ProgressStage
    public var done: Int
    public var total: Int
    public var rate: Double
    /// Seconds since the stage began.
    public var elapsed: Double

    public init(stage: ProgressStage, done: Int, total: Int, rate: Double, elapsed: Double) {
        self.stage = stage; self.done = done; self.total = total; self.rate = rate; self.elapsed = elapsed
    }

    public var isFinished: Bool { done >= total }

    public var description: String {
        "\(stage.rawValue) \(done)/\(total) (\(String(format: rate >= 10 ? "%.0f" : "%.2f", rate))/s)"
    }
}

/// Receives progress reports. Called on the fitting thread, at most about every 1% of a stage (and always at its
/// first and last item), so it must return quickly; the library itself never prints.
public typealias ProgressHandler = @Sendable (ProgressReport) -> Void

/// Counts one stage's items, rate-limits the calls to a `ProgressHandler` and checks task cancellation at every
/// item, so a cancelled `Task` stops a long loop within one item. Public for loops built on the library (the
/// ablation study).
///
/// ```swift
/// var step = StageProgress(.evaluation, total: images.count, handler: progress)
/// for image in images { ...; try step.advance() }
/// ```
public struct StageProgress {
    let stage: ProgressStage
    let total: Int
    let handler: ProgressHandler?
    private let start = Date()
    private var done = 0
    private var lastReported = -1
    private let step: Int

    public init(_ stage: ProgressStage, total: Int, handler: ProgressHandler?) {
        self.stage = stage; self.total = total; self.handler = handler
        step = max(1, total / 100)
        report(force: true)
    }

    /// Throws `CancellationError` when the surrounding task was cancelled.
    public mutating func advance(by n: Int = 1) throws {
        done += n
        report(force: done >= total)
        try Task.checkCancellation()
    }

    /// Sets the count (for loops that report `done` themselves); does not check cancellation.
    public mutating func set(_ absolute: Int) {
        done = absolute
        report(force: done >= total)
    }

    private mutating func report(force: Bool) {
        guard let handler, force || done - lastReported >= step, done != lastReported else { return }
        lastReported = done
        let elapsed = Date().timeIntervalSince(start)
        handler(ProgressReport(stage: stage, done: done, total: total, rate: elapsed > 0 ? Double(done) / elapsed : 0, elapsed: elapsed))
    }
}
