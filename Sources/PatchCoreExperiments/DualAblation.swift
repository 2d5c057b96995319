import Datasets
import Defects
import Evaluation
import Foundation
import ImageIO
import MemoryBank
import PatchCore
import PatchFeatures
import Scoring
import TensorCore

/// Where the synthetic positives of an ablation come from.
public enum SyntheticPositivesSource: Sendable, Equatable {
    /// The classical generator (`ClassicalDefectGenerator`) on the TRAINING good images and the TRAINING defect masks
    /// (never test data), written once into `<out>/synthetic/` (resumable; the first N of the largest count are the
    /// N-set, so the sets are nested).
    case classical
    /// `--positives DIR` folders (e.g. diffusion-made pairs), in folder then manifest order; the first N are the N-set.
    case folders([URL])
}

/// Settings of `DualAblation.run`.
public struct DualAblationOptions: Sendable {
    public var negativeCoresetRatio: Double
    public var positiveCoresetRatio: Double
    /// Synthetic positives added to the real ones (0 = real only); without real training defects the 0 is dropped.
    public var syntheticCounts: [Int]
    public var synthetic: SyntheticPositivesSource
    public var rules: [DualScoreRule]
    public var isolations: [AblationIsolation]
    public var defectPadding: Double
    /// b and eps of `DualScoring`.
    public var numNeighbours: Int
    public var epsilon: Float
    /// Seed of the synthetic generator (the coreset seed is the extractor config's).
    public var seed: UInt64
    /// Test images on which scoring is timed (the first ones).
    public var timingImages: Int
    /// Training images (evenly spaced) whose s_N, s_P calibrate `log_ratio` (`fit --dual` uses all of them; the
    /// statistics are a mean and a standard deviation, and all 700 Magnetic Tile images cost minutes per bank).
    public var calibrationImages: Int
    public var skipBad: Bool
    public var progress: ProgressHandler?

    public init(negativeCoresetRatio: Double = DualFitOptions.defaultNegativeCoresetRatio,
                positiveCoresetRatio: Double = DualFitOptions.defaultPositiveCoresetRatio,
                syntheticCounts: [Int] = [0, 50, 100, 150], synthetic: SyntheticPositivesSource = .classical,
                rules: [DualScoreRule] = DualScoreRule.allCases, isolations: [AblationIsolation] = AblationIsolation.allCases,
                defectPadding: Double = DefectIsolation().padding, numNeighbours: Int = DualScoring().numNeighbours,
                epsilon: Float = DualScoring().epsilon, seed: UInt64 = 0, timingImages: Int = 64, calibrationImages: Int = 100,
                skipBad: Bool = false, progress: ProgressHandler? = nil) {
        self.negativeCoresetRatio = negativeCoresetRatio; self.positiveCoresetRatio = positiveCoresetRatio
        self.syntheticCounts = syntheticCounts; self.synthetic = synthetic; self.rules = rules; self.isolations = isolations
        self.defectPadding = defectPadding; self.numNeighbours = numNeighbours; self.epsilon = epsilon; self.seed = seed
        self.timingImages = timingImages; self.calibrationImages = calibrationImages; self.skipBad = skipBad; self.progress = progress
    }

    public func validate() throws {
        try DualBankBuilder(negativeRatio: negativeCoresetRatio, positiveRatio: positiveCoresetRatio).validate()
        try DefectIsolation(padding: defectPadding).validate()
        guard !syntheticCounts.isEmpty, syntheticCounts.allSatisfy({ $0 >= 0 && $0 <= 100_000 }) else {
            throw PatchCoreError.invalidConfiguration("--synthetic-counts must list counts in 0...100000, got \(syntheticCounts)")
        }
        guard !rules.isEmpty, !isolations.isEmpty else {
            throw PatchCoreError.invalidConfiguration("the ablation needs at least one dual score rule and one isolation mode")
        }
        guard numNeighbours >= 1, epsilon >= 0, timingImages >= 1, calibrationImages >= 1 else {
            throw PatchCoreError.invalidConfiguration("b >= 1, eps >= 0, timing and calibration images >= 1 are needed")
        }
    }
}

/// PatchCore vs PatchCoreDual on one data set and one backbone, from ONE feature extraction: the training good
/// images, the test images, the real training defects' isolated regions and the synthetic positives go through
/// the backbone once; every row then builds its banks (`DualBankBuilder.coreset`) and scores the stored test
/// features (the k-NN of each test image against each bank is shared by the rules). Metrics are `Metrics.evaluate`
/// on the same scores and maps as `patchcore evaluate` (`AnomalyMapGenerator`, masks by `prepareMask`).
///
/// Rows: PatchCore (one negative bank, coreset `negativeCoresetRatio`); PatchCoreDual with the real positives
/// only (when the data set has training defects) and with N synthetic positives added for every N of
/// `syntheticCounts`, each with every rule x isolation mode. Writes `<out>/ablation.json` and `<out>/ablation.md`
/// after every bank (so a long run leaves partial tables) and returns the report.
///
/// ```swift
/// let extractor = try FeatureExtractor(config: config, weights: weights)
/// let report = try DualAblation.run(extractor: extractor, dataset: try DatasetLoader.load(url),
///                                   options: DualAblationOptions(syntheticCounts: [0, 50]), out: outURL)
/// for row in report.rows { print(row.method, row.positives, row.rule ?? "-", row.imageAUROC) }
/// ```
public enum DualAblation {
    /// The features of the test split, kept for every row.
    struct TestSplit {
        var features: [Tensor]          // per image (P, D)
        var masks: [[UInt8]?]           // per image, at the input size, 0/1
        var labels: [Bool]
        var types: [String]
        var grids: [PatchGrid]          // per image (aspect-keeping geometries give each image its own)
        var inputSizes: [(width: Int, height: Int)]
        var backboneSeconds: Double      // sum over images

        /// Anomaly map of image `i` from its patch scores, as `PatchCoreScorer` makes it.
        func map(_ i: Int, patchScores: [Float], sigma: Double) throws -> Tensor {
            try AnomalyMapGenerator(height: inputSizes[i].height, width: inputSizes[i].width, sigma: sigma)
                .maps(patchScores: patchScores, grid: (grids[i].height, grids[i].width))
        }
    }

    public static func run(extractor: FeatureExtractor, dataset: Dataset, options: DualAblationOptions, out: URL,
                           log: (String) -> Void = { _ in }) throws -> DualAblationReport {
        try options.validate()
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var config = extractor.config
        config.coresetRatio = options.negativeCoresetRatio
        var warnings: [String] = []

        // 1. Positive examples: real training defects, and the synthetic pool (nested prefixes).
        let real = PositiveExample.trainDefects(of: dataset)
        let maxCount = options.syntheticCounts.max() ?? 0
        var pool: [PositiveExample] = []
        var syntheticSource: String?
        if maxCount > 0 {
            let made = try syntheticPool(dataset: dataset, count: maxCount, options: options, out: out, log: log)
            pool = made.pool; syntheticSource = made.source
            if pool.count < maxCount {
                warnings.append("only \(pool.count) synthetic positive(s) available, \(maxCount) asked; larger counts are clipped")
            }
        }
        log("positives: \(real.count) real training defect(s), \(pool.count) synthetic")

        // 2. Features, once: training good images, test images, positives (one extraction per isolation).
        let fitStart = Date()
        let good = try PatchCoreTrainer.trainingFeatures(extractor: extractor, images: dataset.train.map(\.image),
                                                         skipBad: options.skipBad, progress: options.progress)
        let goodSeconds = Date().timeIntervalSince(fitStart)
        warnings += good.skipped.map { "\($0.file): \($0.reason)" }
        let test = try testFeatures(extractor: extractor, samples: dataset.test, skipBad: options.skipBad,
                                    progress: options.progress, warnings: &warnings)
        let examples = real + pool
        let positives = examples.isEmpty ? nil
            : try AblationPositives.extract(extractor: extractor, examples: examples, padding: options.defectPadding,
                                            isolations: options.isolations, skipBad: options.skipBad, progress: options.progress)
        warnings += (positives?.warnings ?? []).map { "\($0.file): \($0.reason)" }
        log("features: \(good.imageCount) training images, \(test.features.count) test images, \(examples.count) defect images")

        // 3. The negative bank, shared by every row, and each test image's k-NN against it.
        let coresetStart = Date()
        let negative = try DualBankBuilder.coreset(good.features, ratio: options.negativeCoresetRatio,
                                                   projectionDimension: config.projectionDimension, seed: config.seed,
                                                   stage: .coreset, progress: options.progress)
        let negativeFitSeconds = goodSeconds + Date().timeIntervalSince(coresetStart)
        log("negative bank: \(negative.count) x \(negative.features.shape[1]) from \(good.features.shape[0]) patches")
        let nn = try test.features.map { try negative.nearestNeighbours(of: $0, k: 1) }
        let sigma = Double(config.blurSigma)
        let timing = Array(0..<min(options.timingImages, test.features.count))
        let calibration = evenlySpaced(good, count: options.calibrationImages)

        // 4. PatchCore row: `ImageScorer`, exactly as `patchcore evaluate` scores a plain model.
        let single = ImageScorer(config: config, bank: negative)
        var singleScores: [Float] = [], singleMaps: [[Float]] = []
        for f in test.features {
            let s = try single.score(features: f)
            singleScores.append(s.imageScore); singleMaps.append(s.patchScores)
        }
        var mapSeconds = 0.0
        for i in timing { let t = Date(); _ = try test.map(i, patchScores: singleMaps[i], sigma: sigma); mapSeconds += Date().timeIntervalSince(t) }
        let mapMs = 1000 * mapSeconds / Double(timing.count)
        let backboneMs = 1000 * test.backboneSeconds / Double(test.features.count)
        let singleMs = try timeScorer(single, test: test, images: timing)
        var report = DualAblationReport(
            dataset: dataset.name, backbone: config.backbone, taps: config.taps, transform: config.transform.description,
            trainImages: good.imageCount, testImages: test.features.count, realDefectImages: real.count,
            syntheticSource: syntheticSource, negativeCoresetRatio: options.negativeCoresetRatio,
            positiveCoresetRatio: options.positiveCoresetRatio, defectPadding: options.defectPadding,
            numNeighbours: options.numNeighbours, epsilon: options.epsilon, seed: options.seed,
            defaultRule: DualScoreRule.default.rawValue, defaultIsolation: "\(DefectIsolation().mode.rawValue) at \(DefectIsolation().scale.rawValue)",
            backboneMsPerImage: backboneMs, mapMsPerImage: mapMs, timingImages: timing.count, rows: [], warnings: warnings)
        let singleMetrics = try metrics(scores: singleScores, patchScores: singleMaps, test: test, sigma: sigma,
                                        fitSeconds: negativeFitSeconds, msPerImage: backboneMs + singleMs + mapMs,
                                        dataset: dataset.name, model: config.backbone)
        report.rows.append(DualAblationRow(
            method: "PatchCore", positives: "none", realPositives: 0, syntheticPositives: 0, rule: nil, isolation: nil,
            isDefault: false, imageAUROC: singleMetrics.imageAUROC, pixelAUROC: singleMetrics.pixelAUROC,
            aupro: singleMetrics.aupro, f1Max: singleMetrics.f1Max, averagePrecision: singleMetrics.averagePrecision,
            imageAUROCPerDefectType: singleMetrics.imageAUROCPerDefectType, fitSeconds: negativeFitSeconds,
            scoreMsPerImage: singleMs, inferenceRatio: 1, negativeBankRows: negative.count, positiveBankRows: nil,
            positivePatches: nil, diagnostics: nil))
        log("PatchCore: image AUROC \(fmt3(singleMetrics.imageAUROC)), pixel AUROC \(fmt3(singleMetrics.pixelAUROC))")
        try report.write(to: out)

        // 5. Dual rows: every positive set x isolation x rule.
        guard let positives else {
            report.warnings.append("no positive examples (no training defects, no synthetic count > 0): PatchCore row only")
            try report.write(to: out)
            return report
        }
        for set in positiveSets(real: real, pool: pool, counts: options.syntheticCounts) {
            for mode in options.isolations {
                guard let patches = positives.patches[mode] else { continue }
                let members = Set(set.examples)
                let rows = patches.rows { members.contains($0) }
                guard rows.shape[0] > 0 else {
                    report.warnings.append("\(set.name), \(mode.rawValue): no usable defect region; rows skipped")
                    continue
                }
                let positiveFeatureSeconds = Double(set.examples.count) * (positives.seconds[mode] ?? 0)
                let start = Date()
                let positive = try DualBankBuilder.coreset(rows, ratio: options.positiveCoresetRatio,
                                                           projectionDimension: config.projectionDimension, seed: config.seed,
                                                           stage: .positiveCoreset, progress: options.progress)
                let bankFitSeconds = negativeFitSeconds + positiveFeatureSeconds + Date().timeIntervalSince(start)
                let pp = try test.features.map { try positive.nearestNeighbours(of: $0, k: 1) }
                // thesis, at_negative_argmax and min_positive share the map n_i / (p_i + eps): pixel metrics once.
                var pixelCache: [String: (Double?, Double?)] = [:]
                for rule in options.rules {
                    let calibrationStart = Date()
                    let scoring = try PatchCoreTrainer.calibratedScoring(
                        DualScoring(rule: rule, numNeighbours: options.numNeighbours, epsilon: options.epsilon),
                        negative: negative, positive: positive, training: calibration, config: config)
                    let fitSeconds = bankFitSeconds + (rule.combination == .calibratedLogRatio ? Date().timeIntervalSince(calibrationStart) : 0)
                    var scores: [Float] = [], maps: [[Float]] = [], sN: [Float] = [], sP: [Float] = []
                    for (i, f) in test.features.enumerated() {
                        let s = try scoring.imageScore(features: f, negative: nn[i], positive: pp[i],
                                                       negativeBank: negative, positiveBank: positive)
                        scores.append(s.score); sN.append(s.negative.score); sP.append(s.positive.score)
                        maps.append(try scoring.patchScores(negative: nn[i], positive: pp[i]))
                    }
                    let dual = ImageScorer(config: config, bank: negative, positive: positive, dual: scoring)
                    let (dualMs, singleMsNow) = try timePair(dual: dual, single: single, test: test, images: timing)
                    let ratio = (backboneMs + dualMs + mapMs) / (backboneMs + singleMsNow + mapMs)
                    let mapKey = "\(rule.combination)"
                    var m = try metrics(scores: scores, patchScores: pixelCache[mapKey] == nil ? maps : nil, test: test,
                                        sigma: sigma, fitSeconds: fitSeconds, msPerImage: backboneMs + dualMs + mapMs,
                                        dataset: dataset.name, model: config.backbone)
                    if rule.combination == .calibratedLogRatio {
                        // Its map depends on the calibration: never shared.
                    } else if let cached = pixelCache[mapKey] {
                        (m.pixelAUROC, m.aupro) = cached
                    } else {
                        pixelCache[mapKey] = (m.pixelAUROC, m.aupro)
                    }
                    let isDefault = rule == DualScoreRule.default && mode == AblationIsolation.fitDefault
                    report.rows.append(DualAblationRow(
                        method: "PatchCoreDual", positives: set.name, realPositives: set.real, syntheticPositives: set.synthetic,
                        rule: rule.rawValue, isolation: mode.rawValue, isDefault: isDefault,
                        imageAUROC: m.imageAUROC, pixelAUROC: m.pixelAUROC, aupro: m.aupro, f1Max: m.f1Max,
                        averagePrecision: m.averagePrecision, imageAUROCPerDefectType: m.imageAUROCPerDefectType,
                        fitSeconds: fitSeconds, scoreMsPerImage: dualMs, inferenceRatio: ratio, negativeBankRows: negative.count,
                        positiveBankRows: positive.count, positivePatches: rows.shape[0],
                        diagnostics: try diagnostics(sN: sN, sP: sP, labels: test.labels)))
                    log("PatchCoreDual \(set.name), \(mode.rawValue), \(rule.rawValue): image AUROC \(fmt3(m.imageAUROC)), pixel AUROC \(fmt3(m.pixelAUROC)), ratio \(String(format: "%.2f", ratio))")
                }
                try report.write(to: out)
            }
        }
        return report
    }

    /// A positive set: which examples build the positive bank, and its table label.
    struct PositiveSet {
        var name: String
        var real: Int
        var synthetic: Int
        var examples: [PositiveExample]
    }

    /// Real only (N = 0, when there are real defects), then real + N synthetic (or N synthetic alone) for each N > 0;
    /// N is clipped to the pool and repeated sets are dropped.
    static func positiveSets(real: [PositiveExample], pool: [PositiveExample], counts: [Int]) -> [PositiveSet] {
        var sets: [PositiveSet] = []
        var seen = Set<Int>()
        for n in counts.sorted() {
            let k = min(n, pool.count)
            guard !seen.contains(k), !(real.isEmpty && k == 0) else { continue }
            seen.insert(k)
            let name = k == 0 ? "real" : (real.isEmpty ? "\(k) synthetic" : "real + \(k) synthetic")
            sets.append(PositiveSet(name: name, real: real.count, synthetic: k, examples: real + pool.prefix(k)))
        }
        return sets
    }

    /// The synthetic pool: classical pairs generated (or found from an earlier run) in `<out>/synthetic/`, or the
    /// `--positives` folders' pairs.
    static func syntheticPool(dataset: Dataset, count: Int, options: DualAblationOptions, out: URL,
                              log: (String) -> Void) throws -> (pool: [PositiveExample], source: String) {
        switch options.synthetic {
        case let .folders(urls):
            var pool: [PositiveExample] = []
            for url in urls {
                let pairs = try PositiveExample.folder(url)
                guard !pairs.isEmpty else { throw PatchCoreError.emptyTrainingSet("--positives \(url.path) holds no image + mask pair") }
                pool += pairs
            }
            return (Array(pool.prefix(count)), "folders " + urls.map(\.path).joined(separator: ", "))
        case .classical:
            let folder = out.appendingPathComponent("synthetic")
            let made = try SyntheticPositives.classical(dataset: dataset, count: count, seed: options.seed, folder: folder)
            log("synthetic: \(made.written) written, \(made.reused) already in \(folder.path); methods \(made.methods.joined(separator: ", "))")
            return (made.examples, "classical (\(made.methods.joined(separator: ", ")); \(folder.path), seed \(options.seed))")
        }
    }

    /// Test images -> features (one backbone pass each) and masks at the input size, as `PatchCoreEvaluator` reads them.
    static func testFeatures(extractor: FeatureExtractor, samples: [Sample], skipBad: Bool, progress: ProgressHandler?,
                             warnings: inout [String]) throws -> TestSplit {
        guard !samples.isEmpty else { throw PatchCoreError.invalidConfiguration("the test split is empty") }
        var split = TestSplit(features: [], masks: [], labels: [], types: [], grids: [], inputSizes: [],
                              backboneSeconds: 0)
        var step = StageProgress(.evaluation, total: samples.count, handler: progress)
        for (i, sample) in samples.enumerated() {
            step.set(i)
            try Task.checkCancellation()
            let image: Image
            var mask: Image?
            do {
                (image, mask) = try extractor.readTestSample(sample)
            } catch {
                guard skipBad else { throw error }
                warnings.append("\(sample.image.path): \(error)")
                continue
            }
            let input = try extractor.prepare(image)
            let t = Date()
            let set = try extractor.patchFeatures([input])
            split.backboneSeconds += Date().timeIntervalSince(t)
            split.features.append(set.features); split.grids.append(set.grid)
            split.inputSizes.append((input.width, input.height))
            split.masks.append(mask.map { $0.pixels.map { $0 > 127 ? 1 : 0 } })
            split.labels.append(sample.label == .defect); split.types.append(sample.defectType)
        }
        step.set(samples.count)
        guard !split.features.isEmpty else { throw PatchCoreError.badImages(warnings) }
        return split
    }

    /// `Metrics.evaluate` on image scores and patch values (maps made as `PatchCoreScorer` makes them); nil patch
    /// values skip the pixel metrics (the caller has them already).
    static func metrics(scores: [Float], patchScores: [[Float]]?, test: TestSplit, sigma: Double,
                        fitSeconds: Double, msPerImage: Double, dataset: String, model: String) throws -> EvaluationReport {
        let anyMasks = test.masks.contains { $0 != nil }
        var pixels: [ScoredMask] = []
        if anyMasks, let patchScores {
            pixels.reserveCapacity(scores.count)
            for (i, p) in patchScores.enumerated() {
                let map = try test.map(i, patchScores: p, sigma: sigma)
                pixels.append(try ScoredMask(map: map, mask: test.masks[i]))
            }
        }
        return try Metrics.evaluate(imageScores: scores, imageLabels: test.labels, defectTypes: test.types, pixels: pixels,
                                    fitSeconds: fitSeconds, inferenceSecondsPerImage: msPerImage / 1000,
                                    dataset: dataset, model: model)
    }

    /// Mean ms per image of `scorer.score` on the stored features of `images`.
    static func timeScorer(_ scorer: ImageScorer, test: TestSplit, images: [Int]) throws -> Double {
        var seconds = 0.0
        for i in images {
            let t = Date(); _ = try scorer.score(features: test.features[i]); seconds += Date().timeIntervalSince(t)
        }
        return 1000 * seconds / Double(images.count)
    }

    /// Dual and single scoring timed image by image in alternation (so machine load hits both alike): mean ms each.
    static func timePair(dual: ImageScorer, single: ImageScorer, test: TestSplit, images: [Int]) throws -> (dual: Double, single: Double) {
        var d = 0.0, s = 0.0
        for i in images {
            var t = Date(); _ = try single.score(features: test.features[i]); s += Date().timeIntervalSince(t)
            t = Date(); _ = try dual.score(features: test.features[i]); d += Date().timeIntervalSince(t)
        }
        return (1000 * d / Double(images.count), 1000 * s / Double(images.count))
    }

    /// `count` training images, evenly spaced (all when there are fewer).
    static func evenlySpaced(_ good: TrainingFeatures, count: Int) -> TrainingFeatures {
        guard count < good.imageCount else { return good }
        let picks = (0..<count).map { $0 * good.imageCount / count }
        var subset = good.subset(picks)
        subset.skipped = []
        return subset
    }

    static func diagnostics(sN: [Float], sP: [Float], labels: [Bool]) throws -> DualAblationDiagnostics {
        func mean(_ v: [Float], _ want: Bool) -> Double {
            let x = zip(v, labels).filter { $0.1 == want }.map { Double($0.0) }
            return x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count)
        }
        return DualAblationDiagnostics(
            negativeOnlyAUROC: try Metrics.auroc(scores: sN, labels: labels),
            positiveOnlyAUROC: try Metrics.auroc(scores: sP.map { -$0 }, labels: labels),
            meanNegativeGood: mean(sN, false), meanNegativeDefect: mean(sN, true),
            meanPositiveGood: mean(sP, false), meanPositiveDefect: mean(sP, true))
    }

    static func fmt3(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "-" }
}
