import ArgumentParser
import Foundation
import Datasets
import Defects
import PatchCore
import Scoring

/// Options that define a model before fitting. Names are stable: scripts and docs rely on them.
struct ModelOptions: ParsableArguments {
    @Option(help: "Backbone (torchvision-style name): mobilenet_v2, resnet18/34/50/101, wide_resnet50_2, wide_resnet101_2, efficientnet_lite0/1/2.")
    var backbone = "mobilenet_v2"

    @Option(help: "Backbone weights (.pth or .safetensors). Default: the cached weights of a known backbone (`patchcore weights fetch`).")
    var weights: String?

    @Option(help: "Feature taps, comma-separated layer names (e.g. layer2,layer3). Default: the backbone's default taps.")
    var taps: String?

    @Option(help: "Input geometry: resize to WxH (e.g. 512x256) instead of the default resize 256 + centre crop 224.")
    var size: InputTransform?

    @Option(help: "Input geometry: resize the shorter side to this (torchvision Resize); with --crop, then centre crop. Default 256 with crop 224.")
    var resize: Int?

    @Option(help: "Input geometry: centre crop side after --resize.")
    var crop: Int?

    @Option(help: "Input geometry: resize the shorter side to N and keep the aspect ratio, no crop (images of any size).")
    var shortSide: Int?

    @Flag(help: "Input geometry: each image at its own size (times --scale), no distortion; maps at the image's own resolution.")
    var native = false

    @Option(help: "With --native: scale every image by this factor (0.05...4).")
    var scale: Double?

    @Flag(help: "With --native: pad images smaller than 32 pixels a side at the model input (edge pixels repeated) instead of refusing them.")
    var pad = false

    @Option(help: "Compute features tile by tile for inputs larger than WxH (multiples of 32), stitched into one map; bounds the memory of a pass.")
    var tile: String?

    @Option(help: "With --tile: pixels of each neighbouring tile a tile's pass also sees (multiple of 32).")
    var tileOverlap: Int = 128

    @Option(help: "Fraction of training patches kept in the memory bank (greedy coreset).")
    var coresetRatio: Double = 0.1

    @Option(help: "MiB of training patch features held at once; past it the bank is built chunk by chunk (each chunk cut to twice the coreset ratio, then one pass over what the chunks kept), which bounds memory and time on large training sets but changes the picks.")
    var featureMemory: Int = FitOptions.defaultFeatureMemory >> 20

    @Option(help: "Reduce patch features to this many channels by adaptive average pooling (default: keep all).")
    var featureDimension: Int?

    @Option(help: "Side of the neighbourhood each tap's features are averaged over (odd, 1...15; PatchCore's patchsize). Default 3.")
    var patchSize: Int?

    @Option(help: "Gaussian sigma of the anomaly map's blur, in model-input pixels (0: no blur).")
    var blurSigma: Float = 4

    @Option(help: "Bank neighbours of the image score's reweighting (PatchCore Eq. 7); 1: the plain maximum patch distance.")
    var reweightNeighbours: Int = 9

    @Option(help: "Image score of a single-bank model: patch (the largest patch distance, reweighted: PatchCore Eq. 7) or map_max (the blurred anomaly map's largest value).")
    var imageScore: ImageScoreSource = .patch

    @Option(help: "Seed for the coreset's start point and projection, and the calibration hold-out.")
    var seed: UInt64 = 0

    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be in 1...256, got \(threads)") }
        if featureMemory < 1 || featureMemory > 1 << 30 {
            throw ValidationError("--feature-memory must be in 1...\(1 << 30) MiB, got \(featureMemory)")
        }
        if let featureDimension, featureDimension < 1 || featureDimension > 65536 {
            throw ValidationError("--feature-dimension must be in 1...65536, got \(featureDimension)")
        }
        let geometries = [size != nil, resize != nil || crop != nil, shortSide != nil, native].filter { $0 }.count
        if geometries > 1 { throw ValidationError("give one input geometry: --size, --resize/--crop, --short-side or --native") }
        if scale != nil, !native { throw ValidationError("--scale needs --native") }
        if pad, !native { throw ValidationError("--pad needs --native (the other geometries never go below 32 pixels)") }
        if crop != nil, resize == nil { throw ValidationError("--crop needs --resize") }
        if let tile, tileSpec == nil { throw ValidationError("--tile must be WxH (e.g. 512x512), got '\(tile.prefix(40))'") }
    }

    /// `--tile WxH` with `--tile-overlap` (the library checks the ranges and names them).
    var tileSpec: TileSpec? {
        tile.flatMap { TileSpec.parse($0, overlap: tileOverlap) }
    }

    /// The input geometry asked for, nil for the default (resize 256 + centre crop 224).
    var transform: InputTransform? {
        if let size { return size }
        if let resize { return crop.map { .resizeCrop(resize: resize, crop: $0) } ?? .shortSide(side: resize) }
        if let shortSide { return .shortSide(side: shortSide) }
        if native { return .native(scale: scale ?? 1) }
        return nil
    }

    /// The configuration; the library validates it (its errors name the value).
    func config() throws -> PatchCoreConfig {
        var config = try PatchCorePipeline.defaultConfig(backbone: backbone)
        if let taps { config.taps = taps.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let transform { config.transform = transform }
        config.tile = tileSpec
        if pad { config.pad = true }
        config.coresetRatio = coresetRatio
        config.featureDimension = featureDimension
        config.patchSize = patchSize == PatchCoreConfig.defaultPatchSize ? nil : patchSize     // the default leaves model files as they were
        config.blurSigma = blurSigma
        config.reweightNeighbours = reweightNeighbours
        config.imageScore = imageScore == .patch ? nil : imageScore      // the default leaves model files as they were
        config.seed = seed
        try config.validate()
        return config
    }

    func weightsURL() throws -> URL {
        if let weights { return URL(fileURLWithPath: weights) }
        return try WeightsCatalog.locate(backbone)
    }
}

/// How fitting sets the threshold.
struct ThresholdOptions: ParsableArguments {
    @Option(help: "Share of the good images held out of the bank to set the threshold (at least 5 images; 0 scores the training images instead, biased low).")
    var calibrationSplit: Double = 0.1

    @Option(help: "Folder of good images that set the threshold instead of a held-out share (all given good images then build the bank).")
    var calibration: String?

    @Option(help: "Target share of good parts flagged: the threshold is the matching quantile of the held-out good scores (0: their maximum).")
    var falseRejectRate: Double = FitOptions.defaultFalseRejectRate

    @Option(help: "A fixed threshold on the raw score instead (score >= threshold is anomalous).")
    var threshold: Float?

    func validate() throws {
        guard calibrationSplit >= 0, calibrationSplit < 1 else { throw ValidationError("--calibration-split must be in [0, 1), got \(calibrationSplit)") }
        guard falseRejectRate >= 0, falseRejectRate < 1 else { throw ValidationError("--false-reject-rate must be in [0, 1), got \(falseRejectRate)") }
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be a finite number, got \(threshold)") }
    }

    func plan() throws -> CalibrationPlan {
        if let calibration {
            return .images(ImageSource.files(try DatasetLoader.imageFiles(in: URL(fileURLWithPath: calibration), recursive: true)))
        }
        return calibrationSplit == 0 ? .trainingImages : .holdOut(fraction: calibrationSplit)
    }

    var policy: ModelCalibration.Policy { threshold.map { .manual($0) } ?? .falseRejectRate(falseRejectRate) }
}

/// How scoring searches the normal bank: exact unless asked (predict, evaluate).
struct SearchOptions: ParsableArguments {
    enum Kind: String, CaseIterable, ExpressibleByArgument { case exact, ivf }

    @Option(help: "Nearest-neighbour search: exact, or ivf (approximate: each patch visits --probes of --lists k-means lists of the bank; faster on large banks, scores can only rise; measured recall and AUROC in bench/RESULTS.md).")
    var search: Kind = .exact

    @Option(help: "Lists visited per patch with --search ivf (default 32).")
    var probes: Int?

    @Option(help: "k-means lists with --search ivf (default: the square root of the bank's rows).")
    var lists: Int?

    func validate() throws {
        if search == .exact, probes != nil || lists != nil {
            throw ValidationError("--probes and --lists need --search ivf (the default search is exact)")
        }
        if let probes, probes < 1 { throw ValidationError("--probes must be at least 1, got \(probes)") }
        if let lists, lists < 1 { throw ValidationError("--lists must be at least 1, got \(lists)") }
    }

    var method: SearchMethod {
        search == .exact ? .exact : .invertedFile(lists: lists, probes: probes ?? 32)
    }
}

extension InputTransform: ExpressibleByArgument {
    public init?(argument: String) {
        guard let t = InputTransform.parseSize(argument) else { return nil }
        self = t
    }
    public var defaultValueDescription: String { token }
}

extension DualScoreRule: ExpressibleByArgument {}
extension ImageScoreSource: ExpressibleByArgument {}
extension DefectIsolationMode: ExpressibleByArgument {}
extension DefectScale: ExpressibleByArgument {}

/// Generators that make positives during `fit --dual` (diffusion runs as `patchcore synthesize diffusion`).
enum OnTheFlyGenerator: String, CaseIterable, ExpressibleByArgument {
    case classical
}

/// Where labelled images come from.
struct DataOptions: ParsableArguments {
    @Option(help: "Data set folder: MVTec AD category or KolektorSDD2 (layout auto-detected).")
    var data: String?

    @Option(help: "CSV manifest with columns image,mask,label,split (paths relative to the CSV).")
    var manifest: String?

    @Flag(help: "Continue past unreadable images and list them at the end.")
    var skipBad = false

    func validate() throws {
        if (data == nil) == (manifest == nil) { throw ValidationError("give exactly one of --data DIR or --manifest FILE.csv") }
    }

    var url: URL { URL(fileURLWithPath: data ?? manifest!) }
}

func applyThreads(_ n: Int?) {
    PatchCorePipeline.setThreads(n ?? ProcessInfo.processInfo.activeProcessorCount)
}

/// Fit options from the command line: positives (dual when any), calibration plan and threshold policy.
func fitOptions(dual: DualOptions?, positives: [PositiveExample], threshold: ThresholdOptions, skipBad: Bool,
                featureMemoryMiB: Int, normalAreas: DefectNormalAreas? = nil) throws -> FitOptions {
    var options = FitOptions(positives: positives, dual: dual?.fitOptions() ?? DualFitOptions(),
                             calibration: try threshold.plan(), threshold: threshold.policy, skipBad: skipBad,
                             featureMemory: featureMemoryMiB << 20)
    options.defectNormalAreas = normalAreas
    return options
}

/// The normal areas of the data set's training defect images in the normal bank (`fit` / `evaluate
/// --normal-from-defects`, `DefectNormalAreas`).
struct NormalAreaOptions: ParsableArguments {
    @Flag(help: "Add the normal areas of the data set's training defect images (patch cells more than --defect-margin cells from the mask) to the good images' patches before the coreset.")
    var normalFromDefects = false

    @Option(help: "With --normal-from-defects: patch cells around a defect's mask that are left out (0...64).")
    var defectMargin: Int = DefectNormalAreas.defaultMarginCells

    func validate() throws {
        guard DefectNormalAreas.marginRange.contains(defectMargin) else {
            throw ValidationError("--defect-margin must be in \(DefectNormalAreas.marginRange.lowerBound)...\(DefectNormalAreas.marginRange.upperBound) cells, got \(defectMargin)")
        }
        if !normalFromDefects, defectMargin != DefectNormalAreas.defaultMarginCells {
            throw ValidationError("--defect-margin needs --normal-from-defects")
        }
    }

    /// nil without the flag; else the data set's training defect images with masks (none is an error naming the data).
    func areas(dataset: Dataset?) throws -> DefectNormalAreas? {
        guard normalFromDefects else { return nil }
        guard let dataset else {
            throw ValidationError("--normal-from-defects takes the training defect images of --data or --manifest, not of --images")
        }
        let examples = PositiveExample.trainDefects(of: dataset)
        guard !examples.isEmpty else {
            throw ValidationError("--normal-from-defects: \(dataset.name) has no training defect images with masks")
        }
        log("normal areas: \(examples.count) training defect image(s) with masks in \(dataset.name), margin \(defectMargin) cells")
        return DefectNormalAreas(examples: examples, marginCells: defectMargin)
    }
}

/// PatchCoreDual: a positive bank of defect patches beside the normal one (`fit --dual`, `evaluate --dual`).
struct DualOptions: ParsableArguments {
    @Flag(help: "PatchCoreDual: add a positive memory bank of defect patches (the data set's training defects and --positives folders).")
    var dual = false

    @Option(help: "Folder of defect image + mask pairs (DIR/images/<id>.png, DIR/masks/<id>.png, optional manifest.jsonl); repeatable. Needs --dual.")
    var positives: [String] = []

    @Option(help: "Dual mode: add N synthetic positives made on the fly from the training good images (and the training defects' masks).")
    var synthetic: Int = 0

    @Option(help: "Generator of --synthetic positives. (Diffusion-made defects: run `patchcore synthesize diffusion ...` and pass its folder with --positives.)")
    var generator: OnTheFlyGenerator = .classical

    @Option(help: "Folder for --synthetic samples (reused on rerun); default: next to the model file or under --out.")
    var syntheticDir: String?

    @Option(help: "Seed of --synthetic samples.")
    var syntheticSeed: UInt64 = 0

    @Option(help: "Dual mode: fraction of normal patches kept in the negative bank.")
    var negativeCoresetRatio: Double = DualFitOptions.defaultNegativeCoresetRatio

    @Option(help: "Dual mode: fraction of defect patches kept in the positive bank.")
    var positiveCoresetRatio: Double = DualFitOptions.defaultPositiveCoresetRatio

    @Option(help: "Dual mode image score.")
    var dualScore: DualScoreRule = .default

    @Option(help: "Dual mode defect isolation: crop (every patch of the crop around a defect region) or mask_overlap (only patches over the mask).")
    var isolation: DefectIsolationMode = DefectIsolation().mode

    @Option(help: "Dual mode: scale at which defects are seen: resized_crop (the crop around a region resized to the input size, as the thesis) or image_scale (the whole image at the model input, as test images).")
    var defectScale: DefectScale = DefectIsolation().scale

    @Option(help: "Dual mode: padding around a defect region's box, as a fraction of the image's shorter side.")
    var defectPadding: Double = DefectIsolation().padding

    func validate() throws {
        if !dual {
            if !positives.isEmpty { throw ValidationError("--positives needs --dual") }
            if synthetic != 0 { throw ValidationError("--synthetic needs --dual") }
            return
        }
        guard synthetic >= 0, synthetic <= 1_000_000 else { throw ValidationError("--synthetic must be in 0...1000000, got \(synthetic)") }
    }

    /// The dual settings; the library validates the ratios and the isolation (its errors name the values).
    func fitOptions() -> DualFitOptions {
        DualFitOptions(negativeCoresetRatio: negativeCoresetRatio, positiveCoresetRatio: positiveCoresetRatio,
                       isolation: DefectIsolation(mode: isolation, scale: defectScale, padding: defectPadding),
                       scoring: DualScoring(rule: dualScore))
    }

    /// The positive examples: the data set's training defects (when a data set is given), every --positives folder,
    /// and --synthetic N classical samples written to --synthetic-dir (else `defaultSyntheticFolder`).
    func examples(dataset: Dataset?, defaultSyntheticFolder: URL? = nil) throws -> [PositiveExample] {
        var out: [PositiveExample] = []
        if let dataset {
            let real = PositiveExample.trainDefects(of: dataset)
            log("positives: \(real.count) training defect image(s) with masks in \(dataset.name)")
            out += real
        }
        for dir in positives {
            let url = URL(fileURLWithPath: dir)
            let pairs = try PositiveExample.folder(url)
            let rejected = (try? SyntheticDefectReview.load(folder: url).rejected.count) ?? 0
            log("positives: \(pairs.count) image + mask pair(s) in \(url.path)" +
                (rejected > 0 ? " (\(rejected) rejected in \(SyntheticDefectReview.fileName), left out)" : ""))
            out += pairs
        }
        if synthetic > 0 {
            guard let dataset else {
                throw ValidationError("--synthetic needs a data set (--data or --manifest) to draw training good images and masks from")
            }
            guard let folder = syntheticDir.map({ URL(fileURLWithPath: $0) }) ?? defaultSyntheticFolder else {
                throw ValidationError("--synthetic needs --synthetic-dir DIR (where the samples are written)")
            }
            let made = try SyntheticPositives.classical(dataset: dataset, count: synthetic, seed: syntheticSeed, folder: folder)
            log("positives: \(made.examples.count) synthetic classical pair(s) in \(folder.path) (\(made.written) new, \(made.reused) reused; \(made.methods.joined(separator: ", ")))")
            out += made.examples
        }
        if out.isEmpty {
            throw ValidationError("--dual needs defect images with masks: the data set has no training defects (split=train,label=defect); give --positives DIR")
        }
        return out
    }
}
