import Foundation

/// Progress of a synthesis run, reported after every sample.
public struct SynthesisProgress: Sendable, Equatable {
    /// Samples handled so far (written or skipped) and the total.
    public var done: Int
    public var total: Int
    public var id: String
    /// True when the sample was already in the folder (resumed run).
    public var skipped: Bool
    /// The method of a written sample (nil when skipped).
    public var method: String?
    /// Seconds this sample took.
    public var seconds: Double
}

/// Writes `count` classical samples into a synthetic-defect folder, resumably.
///
/// Sample k has id `classical_%06d` and seed `ClassicalDefectGenerator.sampleSeed(baseSeed:index: k)`; ids already
/// in the folder (`writer.existingIDs`) are skipped, so a rerun of an interrupted job with the same inputs completes
/// the same set.
///
/// ```swift
/// let writer = try SyntheticDefectSet.Writer(folder: URL(fileURLWithPath: "synthetic/"))
/// let summary = try ClassicalSynthesisJob.run(generator: gen, count: 100, baseSeed: 7, writer: writer) { p in
///     print("\(p.done)/\(p.total) \(p.id)")
/// }
/// ```
public enum ClassicalSynthesisJob {
    /// What a run did.
    public struct Summary: Sendable, Equatable {
        public var written: Int
        public var skipped: Int
        public var countsByMethod: [String: Int]
    }

    public static func id(index: Int) -> String { String(format: "classical_%06d", index) }

    /// - Throws: `DefectSynthesisError.invalidArgument` for `count < 0`; errors of the generator or the writer (the
    ///   samples written before stay valid).
    @discardableResult
    public static func run(generator: ClassicalDefectGenerator, count: Int, baseSeed: UInt64,
                           writer: SyntheticDefectSet.Writer,
                           progress: (SynthesisProgress) -> Void = { _ in }) throws -> Summary {
        guard count >= 0 else { throw DefectSynthesisError.invalidArgument("sample count \(count) must be >= 0") }
        var summary = Summary(written: 0, skipped: 0, countsByMethod: [:])
        for k in 0..<count {
            let id = id(index: k)
            let start = Date()
            if writer.existingIDs.contains(id) {
                summary.skipped += 1
                progress(SynthesisProgress(done: k + 1, total: count, id: id, skipped: true, method: nil, seconds: 0))
                continue
            }
            let sample = try generator.sample(seed: ClassicalDefectGenerator.sampleSeed(baseSeed: baseSeed, index: k))
            try writer.write(id: id, image: sample.image, mask: sample.mask, record: sample.record)
            summary.written += 1
            summary.countsByMethod[sample.record.method ?? "", default: 0] += 1
            progress(SynthesisProgress(done: k + 1, total: count, id: id, skipped: false, method: sample.record.method,
                                       seconds: Date().timeIntervalSince(start)))
        }
        return summary
    }
}
