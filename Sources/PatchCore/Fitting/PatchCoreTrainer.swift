import Foundation
import ImageIO
import MemoryBank
import PatchFeatures
import Scoring
import TensorCore

/// An image that could not be used, and why.
public struct SkippedImage: Sendable, Codable, Equatable {
    public var file: String
    public var reason: String

    public init(file: String, reason: String) { self.file = file; self.reason = reason }
}

/// Fitting, plain and dual through one entry point: features of the good images, greedy coreset(s), then the
/// threshold from good images the bank never saw (`CalibrationPlan`). Checks task cancellation between images and
/// between coreset picks (a cancelled fit throws `CancellationError` and writes nothing); reports each stage
/// through `progress`.
///
/// ```swift
/// let extractor = try FeatureExtractor(config: config, weights: weightsURL)
/// let result = try PatchCoreTrainer.fit(extractor: extractor, good: .files(goodURLs)) { print($0) }
/// try ModelFile.write(result.model, to: URL(fileURLWithPath: "part.safetensors"))
/// ```
public enum PatchCoreTrainer {
    public static func fit(config: PatchCoreConfig, weights: URL, good: [ImageSource], options: FitOptions = FitOptions(),
                           progress: ProgressHandler? = nil) throws -> FitResult {
        try fit(extractor: FeatureExtractor(config: config, weights: weights), good: good, options: options, progress: progress)
    }

    public static func fit(extractor: FeatureExtractor, good: [ImageSource], options: FitOptions = FitOptions(),
                           progress: ProgressHandler? = nil) throws -> FitResult {
        let start = Date()
        let dual = options.positives.isEmpty ? nil : options.dual
        var config = extractor.config
        if let dual {
            guard config.imageScore != .mapMax else {
                throw PatchCoreError.invalidConfiguration("image_score map_max is for single-bank models; a dual model scores by its dual rule (\(dual.scoring.rule.rawValue))")
            }
            config.coresetRatio = dual.negativeCoresetRatio
            try DualBankBuilder(negativeRatio: dual.negativeCoresetRatio, positiveRatio: dual.positiveCoresetRatio).validate()
            try dual.isolation.validate()
        }
        guard !good.isEmpty else { throw PatchCoreError.emptyTrainingSet("no good images were given") }

        // 1. Which good images build the bank and which set the threshold.
        var notes: [String] = []
        let (bankImages, heldOut) = split(good, plan: options.calibration, seed: config.seed, notes: &notes)

        // 2. Features: good images, then the isolated defect regions (dual). Past `featureMemory` bytes the good
        //    images' features are cut to a coreset chunk by chunk as they arrive (a streamed bank).
        guard options.featureMemory >= 1 else {
            throw PatchCoreError.invalidConfiguration("feature memory must be at least 1 byte, got \(options.featureMemory)")
        }
        let sampler = GreedyCoresetSampler(ratio: config.coresetRatio, projectionDimension: config.projectionDimension,
                                           seed: config.seed, threads: ComputeThreads.current)
        var stream = StreamedCoreset(sampler: sampler, chunkBytes: options.featureMemory)
        // The normal areas of defect images (`DefectNormalAreas`) go into the same stream after the good images, one
        // image at a time, so a streamed bank stays within its memory.
        var normalAreas: (images: Int, patches: Int, warnings: [SkippedImage])?
        let training = try trainingFeatures(extractor: extractor, images: bankImages, skipBad: options.skipBad,
                                            progress: progress, into: &stream) { stream in
            normalAreas = try options.defectNormalAreas.map { areas in
                try areas.extract(extractor: extractor, skipBad: options.skipBad, progress: progress) { rows in
                    var passes = CoresetPasses(handler: progress)
                    try stream.append(rows) { passes.report($0, of: $1) }
                }
            }
        }
        let defects = try dual.map {
            try PositivePatchExtractor.extract(extractor: extractor, examples: options.positives, isolation: $0.isolation,
                                               skipBad: options.skipBad, progress: progress)
        }
        let featureSeconds = Date().timeIntervalSince(start) - training.chunkCoresetSeconds

        // 3. Coreset(s).
        let coresetStart = Date()
        let normal: MemoryBank
        var streamed: StreamedBankRecord?
        if training.retainsFeatures {
            normal = try DualBankBuilder.coreset(training.features, ratio: config.coresetRatio,
                                                 projectionDimension: config.projectionDimension, seed: config.seed,
                                                 stage: .coreset, progress: progress)
        } else {
            var passes = CoresetPasses(handler: progress)
            let result = try stream.finish { passes.report($0, of: $1) }
            normal = try MemoryBank(features: result.bank)
            streamed = StreamedBankRecord(chunks: result.chunks, chunkBytes: stream.chunkBytes,
                                          oversampling: stream.oversampling, keptPatches: result.keptRows)
            notes.append("the \(training.patchCount) training patches (\(byteCount(training.patchCount * training.dimension * 4)) of features) exceed the feature memory (\(byteCount(options.featureMemory))): the bank was built in \(result.chunks) chunks, so its picks differ from one coreset of all patches")
        }
        var banks = Banks.single(normal)
        var scoring: DualScoring?
        if let dual, let defects {
            let positive = try DualBankBuilder.coreset(defects.features, ratio: dual.positiveCoresetRatio,
                                                       projectionDimension: config.projectionDimension, seed: config.seed,
                                                       stage: .positiveCoreset, progress: progress)
            let calibrated = try calibratedScoring(dual.scoring, negative: normal, positive: positive,
                                                   imageCount: training.imageCount,
                                                   features: { try trainingImageFeatures(training, $0, extractor: extractor) },
                                                   config: config, progress: progress)
            scoring = calibrated
            banks = .dual(negative: normal, positive: positive, DualBankInfo(
                scoring: calibrated, isolation: dual.isolation, negativeCoresetRatio: dual.negativeCoresetRatio,
                positiveCoresetRatio: dual.positiveCoresetRatio, sources: defects.sourceSummaries,
                files: defects.examples.map(\.example.image.path), warnings: defects.warnings,
                positivePatchCount: defects.features.shape[0]))
        }
        let coresetSeconds = Date().timeIntervalSince(coresetStart) + training.chunkCoresetSeconds

        // 4. Threshold: score good images the bank did not see (or, by request or necessity, its own).
        let calibrationStart = Date()
        let scorer = ImageScorer(config: config, bank: normal, positive: banks.positive?.bank, dual: scoring)
        var calibrationSet = heldOut
        var skipped = training.skipped
        var calibrationNames: [String] = []
        var scores: [Float] = [], maxima: [Float] = [], medians: [Float] = []
        var step = StageProgress(.calibration, total: calibrationSet?.count ?? training.imageCount, handler: progress)
        func record(_ features: Tensor, grid: PatchGrid, input: (width: Int, height: Int)) throws {
            let (patchScores, score) = try scorer.score(features: features)
            let maps = AnomalyMapGenerator(height: input.height, width: input.width, sigma: Double(config.blurSigma))
            let map = try maps.maps(patchScores: patchScores, grid: (grid.height, grid.width)).scalars
            scores.append(finite(config.imageScore(patchScore: score, map: map, dual: scoring != nil)))
            maxima.append(finite(map.max() ?? 0))
            medians.append(finite(quantile(map, 0.5)))
        }
        if let set = calibrationSet {
            for source in set {
                do {
                    let input = try extractor.prepare(try source.load(), file: source.name)
                    let f = try extractor.patchFeatures([input])
                    try record(f.features, grid: f.grid, input: (input.width, input.height))
                    calibrationNames.append(source.name)
                } catch let error as CancellationError { throw error } catch {
                    guard options.skipBad else { throw error }
                    skipped.append(SkippedImage(file: source.name, reason: SystemErrorText.describe(error)))
                }
                try step.advance()
            }
            if scores.isEmpty { calibrationSet = nil; notes.append("every calibration image was unreadable; the training images set the threshold") }
        }
        if calibrationSet == nil {
            step = StageProgress(.calibration, total: training.imageCount, handler: progress)
            for i in 0..<training.imageCount {
                try record(trainingImageFeatures(training, i, extractor: extractor), grid: training.grids[i],
                           input: training.inputSizes[i])
                try step.advance()
            }
            calibrationNames = training.names
        }
        let source = calibrationSet == nil ? "training images (in the bank)"
            : (heldOutFromGood(options.calibration) ? "held-out good images" : "calibration images")
        let calibration = try ModelCalibration.fit(goodScores: scores, mapMaxima: maxima, mapMedian: quantile(medians, 0.5),
                                                   policy: options.threshold, source: source)
        let calibrationSeconds = Date().timeIntervalSince(calibrationStart)

        // 5. The model, with the record older readers understand kept in step. No wall time goes into it: the same
        //    images, settings and seed give a byte-identical model file (the time is in the FitResult).
        var info = ModelInfo(weightsSHA256: extractor.weightsSHA256, gridHeight: training.grid.height,
                             gridWidth: training.grid.width, featureDimension: training.dimension,
                             trainImageCount: training.imageCount, trainPatchCount: training.patchCount,
                             calibration: try ScoreCalibration.fit(referenceScores: scores, method: .minMax,
                                                                   threshold: .fixed(calibration.threshold)),
                             thresholdRule: calibration.provenance.description,
                             fitSeconds: 0, thresholdCalibration: calibration)
        info.streamedBank = streamed
        if let normalAreas, let used = options.defectNormalAreas {
            info.defectNormalAreas = DefectNormalAreasRecord(images: normalAreas.images, patches: normalAreas.patches,
                                                             marginCells: used.marginCells)
        }
        info.modelID = PatchCoreModel.contentID(config: config, info: info, banks: banks)
        // Notes reach the caller in the result; the log gets them at debug level only, so a CLI does not print twice.
        for note in notes { logger.debug("\(note)") }
        logger.debug("fitted \(info.modelID ?? "")", metadata: [
            "features_s": "\(featureSeconds)", "coreset_s": "\(coresetSeconds)",
            "calibration_s": "\(Date().timeIntervalSince(calibrationStart))", "threshold": "\(calibration.threshold)"])
        let model = PatchCoreModel(config: config, info: info, banks: banks)
        return FitResult(model: model, skipped: skipped, positiveWarnings: (defects?.warnings ?? []) + (normalAreas?.warnings ?? []),
                         patchCount: training.patchCount, positivePatchCount: defects?.features.shape[0] ?? 0,
                         calibrationImages: calibrationNames, notes: notes, featureSeconds: featureSeconds,
                         coresetSeconds: coresetSeconds, calibrationSeconds: calibrationSeconds,
                         totalSeconds: Date().timeIntervalSince(start))
    }

    private static func heldOutFromGood(_ plan: CalibrationPlan) -> Bool {
        if case .holdOut = plan { return true }
        return false
    }

    /// (bank images, calibration images or nil to use the bank's own images).
    static func split(_ good: [ImageSource], plan: CalibrationPlan, seed: UInt64,
                      notes: inout [String]) -> ([ImageSource], [ImageSource]?) {
        switch plan {
        case .trainingImages:
            return (good, nil)
        case let .images(list):
            guard !list.isEmpty else {
                notes.append("no calibration images were given; the training images set the threshold")
                return (good, nil)
            }
            return (good, list)
        case let .holdOut(fraction, minimum):
            let n = good.count
            let k = max(Int((Double(n) * max(fraction, 0)).rounded(.up)), minimum)
            guard fraction > 0, n - k >= 1 else {
                if fraction > 0 {
                    notes.append("\(n) good image(s) are too few to hold out \(k) for calibration; the training images set the threshold (biased low)")
                }
                return (good, nil)
            }
            // Seeded Fisher-Yates; the held-out images are the first k of the permutation, the rest keep their order.
            var rng = SplitMix64(seed: seed ^ 0x6361_6c69_6272_6174)
            var order = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) {
                order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
            let held = Set(order.prefix(k))
            return (good.indices.filter { !held.contains($0) }.map { good[$0] }, order.prefix(k).sorted().map { good[$0] })
        }
    }

    /// `scoring` with its `log_ratio` / `patch_log_ratio` calibration fitted on the training images' s_N and s_P (other
    /// rules unchanged).
    public static func calibratedScoring(_ scoring: DualScoring, negative: MemoryBank, positive: MemoryBank,
                                         training: TrainingFeatures, config: PatchCoreConfig,
                                         progress: ProgressHandler? = nil) throws -> DualScoring {
        try calibratedScoring(scoring, negative: negative, positive: positive, imageCount: training.imageCount,
                              features: { training.image($0) }, config: config, progress: progress)
    }

    /// `calibratedScoring` over `imageCount` training images whose (P, D) features `features(i)` gives.
    static func calibratedScoring(_ scoring: DualScoring, negative: MemoryBank, positive: MemoryBank, imageCount: Int,
                                  features: (Int) throws -> Tensor, config: PatchCoreConfig,
                                  progress: ProgressHandler? = nil) throws -> DualScoring {
        guard scoring.rule.combination == .calibratedLogRatio else { return scoring }
        // The statistics are those of s_N and s_P at the patch farthest from normal (`log_ratio`'s patch), also for
        // `patch_log_ratio`, whose choice of patch needs the calibration it would otherwise be fitted from.
        var statisticsRule = scoring
        statisticsRule.rule = .logRatio
        statisticsRule.logRatioCalibration = nil
        let scorer = ImageScorer(config: config, bank: negative, positive: positive, dual: statisticsRule)
        var sN: [Float] = [], sP: [Float] = []
        var step = StageProgress(.dualStatistics, total: imageCount, handler: progress)
        for i in 0..<imageCount {
            let s = try scorer.dualScore(features: features(i), positive: positive, dual: statisticsRule).image
            sN.append(s.negative.score); sP.append(s.positive.score)
            try step.advance()
        }
        var calibrated = scoring
        calibrated.logRatioCalibration = try DualLogRatioCalibration.fit(negativeScores: sN, positiveScores: sP,
                                                                        epsilon: scoring.epsilon)
        return calibrated
    }
}

/// Patch features of a set of training images, all rows in one tensor. With an aspect-keeping geometry each image
/// has its own grid, so rows are found through `offsets`.
public struct TrainingFeatures: Sendable {
    /// (total patches, D), rows (n, y, x), then any rows that are not an image's (`DefectNormalAreas`).
    public var features: Tensor
    /// Grid of each image, in row order.
    public private(set) var grids: [PatchGrid]
    /// Model input size (width, height) of each image.
    public private(set) var inputSizes: [(width: Int, height: Int)]
    /// First row of each image, and one past the last row at the end (`imageCount + 1` values), from `grids`.
    public private(set) var offsets: [Int]
    /// Images read (unreadable ones are in `skipped`).
    public var imageCount: Int { grids.count }
    /// Names of the images read, in row order.
    public var names: [String]
    public var skipped: [SkippedImage]
    /// False when the rows went into a streamed bank (`StreamedCoreset`) instead: `features` then has no rows.
    /// Rows past `patchCount` are not an image's (`DefectNormalAreas`); they join the bank's coreset input.
    public var retainsFeatures: Bool { features.shape[0] >= patchCount }
    /// The images read, in row order (to extract an image's features again when they were not retained).
    var sources: [ImageSource] = []
    /// Time spent reducing chunks of a streamed bank while the features were read.
    var chunkCoresetSeconds = 0.0

    public init(features: Tensor, grids: [PatchGrid], inputSizes: [(width: Int, height: Int)], names: [String],
                skipped: [SkippedImage]) {
        self.features = features; self.grids = grids; self.inputSizes = inputSizes; self.names = names
        self.skipped = skipped
        var offsets = [0]
        for g in grids { offsets.append(offsets.last! + g.patchesPerImage) }
        self.offsets = offsets
    }

    /// The first image's grid (the grid of every image when the geometry has a fixed input size).
    public var grid: PatchGrid { grids[0] }
    /// Patch rows of all images read.
    public var patchCount: Int { offsets.last! }
    /// Feature dimension D.
    public var dimension: Int { features.shape[1] }

    /// The (P, D) rows of image `i` (only when `retainsFeatures`).
    public func image(_ i: Int) -> Tensor {
        precondition(retainsFeatures, "the training features went into a streamed bank; extract image \(i) again")
        return features.rows(offsets[i] ..< offsets[i + 1])
    }

    /// The images at `indices`, in that order (only when `retainsFeatures`).
    public func subset(_ indices: [Int]) -> TrainingFeatures {
        precondition(retainsFeatures, "the training features went into a streamed bank")
        let d = features.shape[1]
        var rows: [Float] = []
        rows.reserveCapacity(indices.reduce(0) { $0 + (offsets[$1 + 1] - offsets[$1]) } * d)
        for i in indices { rows += features.scalars[offsets[i] * d ..< offsets[i + 1] * d] }
        return TrainingFeatures(features: Tensor(shape: [rows.count / max(d, 1), d], scalars: rows),
                                grids: indices.map { grids[$0] }, inputSizes: indices.map { inputSizes[$0] },
                                names: indices.map { names[$0] }, skipped: skipped)
    }
}

extension PatchCoreTrainer {
    /// Patch features of every image (one backbone pass each), for fitting or for an ablation that builds several
    /// banks from them (`DualBankBuilder`).
    public static func trainingFeatures(extractor: FeatureExtractor, images: [ImageSource], skipBad: Bool = false,
                                        progress: ProgressHandler? = nil) throws -> TrainingFeatures {
        var keepAll = StreamedCoreset(sampler: GreedyCoresetSampler(ratio: 1), chunkBytes: .max)
        return try trainingFeatures(extractor: extractor, images: images, skipBad: skipBad, progress: progress, into: &keepAll)
    }

    /// The features of every image go into `stream`, then whatever `more` appends (rows that are not an image's
    /// own, after every image's). When it never reduced a chunk, they come back as the result's `features`;
    /// otherwise the result has no rows (`retainsFeatures` false) and `stream` holds the kept ones.
    static func trainingFeatures(extractor: FeatureExtractor, images: [ImageSource], skipBad: Bool,
                                 progress: ProgressHandler?, into stream: inout StreamedCoreset,
                                 more: ((inout StreamedCoreset) throws -> Void)? = nil) throws -> TrainingFeatures {
        guard !images.isEmpty else { throw PatchCoreError.emptyTrainingSet("the training set lists no images") }
        var grids: [PatchGrid] = []
        var sizes: [(width: Int, height: Int)] = []
        var skipped: [SkippedImage] = []
        var names: [String] = []
        var sources: [ImageSource] = []
        var chunkSeconds = 0.0
        var step = StageProgress(.features, total: images.count, handler: progress)
        for source in images {
            let input: Image
            // Unreadable, or too large once resized: skipped with --skip-bad like any bad image.
            do { input = try extractor.prepare(try source.load(), file: source.name) } catch {
                guard skipBad else { throw error }
                skipped.append(SkippedImage(file: source.name, reason: SystemErrorText.describe(error)))
                try step.advance()
                continue
            }
            let set = try extractor.patchFeatures([input])
            try FiniteCheck.require(set.features, file: source.name, tensor: "patch features")
            if names.isEmpty { stream.expectedRows = images.count * set.features.shape[0] }
            let chunkStart = Date()
            var passes = CoresetPasses(handler: progress)
            try stream.append(set.features) { passes.report($0, of: $1) }
            if passes.started { chunkSeconds += Date().timeIntervalSince(chunkStart) }
            grids.append(set.grid)
            sizes.append((input.width, input.height))
            names.append(source.name)
            sources.append(source)
            try step.advance()
        }
        guard !names.isEmpty else {
            throw PatchCoreError.emptyTrainingSet("all \(images.count) training image(s) were unreadable")
        }
        try more?(&stream)
        let features = stream.takeRows() ?? Tensor(shape: [0, stream.dimension], scalars: [])
        var training = TrainingFeatures(features: features, grids: grids, inputSizes: sizes, names: names, skipped: skipped)
        training.sources = sources
        training.chunkCoresetSeconds = chunkSeconds
        return training
    }

    /// The (P, D) features of training image `i`: its rows, or one more backbone pass when they were streamed.
    static func trainingImageFeatures(_ training: TrainingFeatures, _ i: Int, extractor: FeatureExtractor) throws -> Tensor {
        if training.retainsFeatures { return training.image(i) }
        let source = training.sources[i]
        return try extractor.patchFeatures([try extractor.prepare(try source.load(), file: source.name)]).features
    }

    /// `trainingFeatures` of image files.
    public static func trainingFeatures(extractor: FeatureExtractor, images: [URL], skipBad: Bool = false,
                                        progress: ProgressHandler? = nil) throws -> TrainingFeatures {
        try trainingFeatures(extractor: extractor, images: ImageSource.files(images), skipBad: skipBad, progress: progress)
    }
}

/// Progress of a streamed bank's coreset passes (a chunk's, the final one): one `.coreset` stage each.
struct CoresetPasses {
    let handler: ProgressHandler?
    private var step: StageProgress?
    private var total = 0, last = 0

    init(handler: ProgressHandler?) { self.handler = handler }

    var started: Bool { step != nil }

    mutating func report(_ done: Int, of total: Int) {
        if step == nil || total != self.total || done < last {
            step = StageProgress(.coreset, total: total, handler: handler)
            self.total = total
        }
        last = done
        step?.set(done)
    }
}

/// Calibration statistics need finite numbers: a training image equal to a positive patch gives s_N / eps (huge)
/// or, with eps = 0, infinity, which becomes the largest float.
func finite(_ s: Float) -> Float { s.isFinite ? s : (s.isNaN ? 0 : (s > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude)) }
