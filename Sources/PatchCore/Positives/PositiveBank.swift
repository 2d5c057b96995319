import Datasets
import Defects
import Foundation
import ImageIO
import TensorCore

/// Where positive (defect) examples come from; recorded in dual model files.
public struct PositiveSource: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable {
        /// Defective training images of the data set (`split=train,label=defect`, KolektorSDD2 `train/` positives).
        case trainDefects = "train_defects"
        /// A `--positives DIR` folder (`DIR/images`, `DIR/masks`, optional `manifest.jsonl`).
        case folder
        /// Made on the fly by a generator (`--synthetic N --generator G`).
        case synthetic
    }

    public var kind: Kind
    /// Data set name or folder path.
    public var path: String?
    /// Generator name (synthetic).
    public var generator: String?
    /// Requested count and seed (synthetic).
    public var count: Int?
    public var seed: UInt64?

    public init(kind: Kind, path: String? = nil, generator: String? = nil, count: Int? = nil, seed: UInt64? = nil) {
        self.kind = kind; self.path = path; self.generator = generator; self.count = count; self.seed = seed
    }

    public var description: String {
        var s = kind.rawValue
        if let path { s += " \(path)" }
        if let generator { s += " generator \(generator)" }
        if let count { s += " n=\(count)" }
        if let seed { s += " seed \(seed)" }
        return s
    }
}

/// One defect image with its mask, and where it came from.
public struct PositiveExample: Sendable, Hashable {
    public var image: URL
    public var mask: URL
    public var source: PositiveSource

    public init(image: URL, mask: URL, source: PositiveSource) {
        self.image = image; self.mask = mask; self.source = source
    }

    /// The image and its mask as read; nil when either cannot be read and `skipBad` (the reason appended to
    /// `warnings`), else the read error.
    func read(skipBad: Bool, warnings: inout [SkippedImage]) throws -> (image: Image, mask: Image)? {
        do {
            return (try ImageFile.read(image), try ImageFile.read(mask))
        } catch {
            guard skipBad else { throw error }
            warnings.append(SkippedImage(file: image.path, reason: SystemErrorText.describe(error)))
            return nil
        }
    }

    /// The defective training images (with masks) of a data set.
    ///
    /// ```swift
    /// let real = PositiveExample.trainDefects(of: dataset)   // split == .train, label == .defect, mask != nil
    /// ```
    public static func trainDefects(of dataset: Dataset) -> [PositiveExample] {
        let source = PositiveSource(kind: .trainDefects, path: dataset.name)
        return dataset.samples.compactMap { s in
            guard s.split == .train, s.label == .defect, let mask = s.mask else { return nil }
            return PositiveExample(image: s.image, mask: mask, source: source)
        }
    }

    /// The pairs of a positives folder (`SyntheticDefectSet.pairs(in:)`: samples rejected in its review.json are left
    /// out), tagged with `source` (default: `.folder` with the folder's path).
    public static func folder(_ url: URL, source: PositiveSource? = nil) throws -> [PositiveExample] {
        let tag = source ?? PositiveSource(kind: .folder, path: url.path)
        return try SyntheticDefectSet.pairs(in: url).map { PositiveExample(image: $0.image, mask: $0.mask, source: tag) }
    }

    /// Pairs made elsewhere (e.g. a generator run), tagged with `source`.
    public static func pairs(_ pairs: [DefectPair], source: PositiveSource) -> [PositiveExample] {
        pairs.map { PositiveExample(image: $0.image, mask: $0.mask, source: source) }
    }
}

/// Isolated defect patch features of many positive examples, before any coreset, with the rows of each example,
/// so that callers (the ablation) can build banks from any subset without re-running the backbone.
public struct PositivePatches: Sendable {
    /// (R, D): rows of all kept crop patches, example after example.
    public var features: Tensor
    /// Per used example: its source and row range in `features`, with its region count.
    public var examples: [(example: PositiveExample, rows: Range<Int>, regions: Int)]
    /// Examples (or regions) skipped or fixed, with why.
    public var warnings: [SkippedImage]

    /// Rows of the examples that satisfy `include` (e.g. a source, or the first N synthetic ones).
    public func rows(where include: (PositiveExample) -> Bool) -> Tensor {
        var indices: [Int] = []
        for e in examples where include(e.example) { indices += Array(e.rows) }
        return features.gatherRows(indices)
    }

    /// Per-source counts of used images, regions and patches.
    public var sourceSummaries: [PositiveSourceSummary] {
        var order: [PositiveSource] = []
        var bySource: [PositiveSource: PositiveSourceSummary] = [:]
        for e in examples {
            let s = e.example.source
            if bySource[s] == nil { order.append(s); bySource[s] = PositiveSourceSummary(source: s, images: 0, regions: 0, patches: 0) }
            bySource[s]!.images += 1
            bySource[s]!.regions += e.regions
            bySource[s]!.patches += e.rows.count
        }
        return order.map { bySource[$0]! }
    }
}

/// What one source contributed to a positive bank.
public struct PositiveSourceSummary: Sendable, Codable, Equatable {
    public var source: PositiveSource
    public var images: Int
    public var regions: Int
    /// Patches before the coreset.
    public var patches: Int
}

/// Defect images + masks -> isolated defect patch features (`DefectIsolation`), with the same `FeatureExtractor`
/// (backbone, taps, normalisation) as the negative bank; one backbone pass per defect region.
///
/// ```swift
/// let positives = try PositivePatchExtractor.extract(extractor: extractor, examples: PositiveExample.trainDefects(of: ds),
///                                                     isolation: DefectIsolation(mode: .crop))
/// print(positives.features.shape, positives.warnings.count)
/// ```
public enum PositivePatchExtractor {
    /// - Parameter skipBad: unreadable files are skipped with a warning instead of thrown. Empty masks, resized
    ///   masks and tiny regions are always warnings (see `DefectIsolation`).
    /// - Throws: `PatchCoreError.emptyTrainingSet` when no example yields a single patch.
    public static func extract(extractor: FeatureExtractor, examples: [PositiveExample], isolation: DefectIsolation,
                               skipBad: Bool = false, progress: ProgressHandler? = nil) throws -> PositivePatches {
        try isolation.validate()
        guard !examples.isEmpty else {
            throw PatchCoreError.emptyTrainingSet("dual mode needs defect images with masks (training defects of the data set or --positives DIR), none were given")
        }
        var rows: [Float] = []
        var dimension = 0
        var used: [(example: PositiveExample, rows: Range<Int>, regions: Int)] = []
        var warnings: [SkippedImage] = []
        var count = 0
        var step = StageProgress(.positiveFeatures, total: examples.count, handler: progress)
        for (i, example) in examples.enumerated() {
            step.set(i)
            try Task.checkCancellation()
            guard let (image, mask) = try example.read(skipBad: skipBad, warnings: &warnings) else { continue }
            let start = count
            var regionCount = 0
            switch isolation.scale {
            case .resizedCrop:
                // One backbone pass per region crop.
                let (crops, notes) = isolation.crops(image: image, mask: mask, inputSize: extractor.config.transform.cropInputSize, file: example.image.path)
                warnings += notes.map { SkippedImage(file: example.image.path, reason: $0) }
                for crop in crops {
                    let set = try extractor.patchFeatures([crop.image])
                    dimension = set.dimension
                    let keep = isolation.keptPatches(of: crop, grid: set.grid)
                    rows += set.features.gatherRows(keep).scalars
                    count += keep.count
                }
                regionCount = crops.count
            case .imageScale:
                // One backbone pass per image; the union of the regions' kept patches.
                let (fixed, resized) = DefectIsolation.grayMask(mask, fittedTo: image, file: example.image.path)
                if let resized { warnings.append(SkippedImage(file: example.image.path, reason: resized)) }
                let input = try extractor.prepare(image, file: example.image.path)
                let (crops, notes) = try isolation.imageScaleRegions(input: input, mask: fixed, transform: extractor.config.transform,
                                                                     prepareMask: { try extractor.prepareMask($0, file: example.image.path) },
                                                                     file: example.image.path)
                warnings += notes.map { SkippedImage(file: example.image.path, reason: $0) }
                if !crops.isEmpty {
                    let set = try extractor.patchFeatures([input])
                    dimension = set.dimension
                    var keep = Set<Int>()
                    for crop in crops { keep.formUnion(isolation.keptPatches(of: crop, grid: set.grid)) }
                    rows += set.features.gatherRows(keep.sorted()).scalars
                    count += keep.count
                }
                regionCount = crops.count
            }
            if count > start { used.append((example, start..<count, regionCount)) }
        }
        step.set(examples.count)
        guard count > 0 else {
            throw PatchCoreError.emptyTrainingSet("no usable defect region in \(examples.count) defect image(s) (all masks empty, unreadable or too small); dual mode needs at least one")
        }
        return PositivePatches(features: Tensor(shape: [count, dimension], scalars: rows), examples: used, warnings: warnings)
    }
}
