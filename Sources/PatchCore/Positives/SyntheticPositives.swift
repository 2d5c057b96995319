import Datasets
import Defects
import Foundation

/// Synthetic positives made on the fly for PatchCoreDual (`fit --dual --synthetic N --generator classical`, and the
/// ablation's N-synthetic rows): N classical defects from the TRAINING good images, cut-paste from the training
/// defects' masks when the data set has some (Perlin methods only otherwise), never from test data.
///
/// Samples go to `folder` in the `SyntheticDefectSet` layout with ids `classical_000000...`; a rerun reuses what is
/// there, so the first 50 of a 150-sample folder are exactly the 50-sample set (nested, as the ablation needs).
///
/// ```swift
/// let made = try SyntheticPositives.classical(dataset: ds, count: 100, seed: 0, folder: out.appendingPathComponent("synthetic"))
/// let examples = PositiveExample.trainDefects(of: ds) + made.examples
/// ```
public enum SyntheticPositives {
    public struct Made: Sendable {
        public var examples: [PositiveExample]
        public var written: Int
        public var reused: Int
        public var methods: [String]
    }

    /// Generators `--generator` accepts for on-the-fly positives. Diffusion needs a model folder and minutes per
    /// image, so it runs as `patchcore synthesize` and its folder is passed with `--positives`.
    public static let onTheFlyGenerators = ["classical"]

    public static func classical(dataset: Dataset, count: Int, seed: UInt64, folder: URL,
                                 progress: ((Int, Int) -> Void)? = nil) throws -> Made {
        guard count >= 0 else { throw PatchCoreError.invalidConfiguration("synthetic positive count must be >= 0, got \(count)") }
        let masks: DefectMaskSampler?
        do { masks = try DefectMaskSampler(dataset: dataset, includeTest: false) } catch DefectSynthesisError.noMasks {
            masks = nil  // no training defects (MVTec AD): procedural methods only
        }
        let generator = try ClassicalDefectGenerator(goodImages: dataset.train.map(\.image), masks: masks)
        let writer = try SyntheticDefectSet.Writer(folder: folder)
        let summary = try ClassicalSynthesisJob.run(generator: generator, count: count, baseSeed: seed, writer: writer) { p in
            progress?(p.done, p.total)
        }
        let ids = Set((0..<count).map { ClassicalSynthesisJob.id(index: $0) })
        let pairs = count == 0 ? [] : try SyntheticDefectSet.pairs(in: folder)
            .filter { ids.contains($0.image.deletingPathExtension().lastPathComponent) }
            .sorted { $0.image.lastPathComponent < $1.image.lastPathComponent }
        let source = PositiveSource(kind: .synthetic, path: folder.path, generator: "classical", count: count, seed: seed)
        return Made(examples: PositiveExample.pairs(pairs, source: source), written: summary.written, reused: summary.skipped,
                    methods: generator.methods.map(\.rawValue))
    }
}
