import ArgumentParser
import Datasets
import Foundation
import PatchCore

struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a PatchCore model on good images and write the model file.",
        discussion: """
        Training images: --images DIR (a folder of good images), or the good training split of --data / --manifest.
        A share of them (--calibration-split, default 10%, at least 5 images) is held out of the bank and sets the \
        threshold for a target false-reject rate (--false-reject-rate, default 0.01); --calibration DIR uses other \
        good images instead, --threshold X a fixed value. A part is anomalous when score >= threshold.
        --dual (PatchCoreDual) adds a positive bank from the data set's training defects (split=train,label=defect) and \
        --positives DIR folders.
        """)

    @Option(help: "Folder of good images (PNG/JPEG).") var images: String?
    @OptionGroup var data: OptionalDataOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var threshold: ThresholdOptions
    @OptionGroup var dual: DualOptions
    @OptionGroup var normalAreas: NormalAreaOptions
    @OptionGroup(title: "Input limits") var limits: LimitOptions
    @Option(name: .customLong("model"), help: "Output model file (.safetensors).") var output: String

    func validate() throws {
        let sources = [images != nil, data.data != nil, data.manifest != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one of --images DIR, --data DIR or --manifest FILE.csv") }
    }

    func run() throws {
        applyThreads(model.threads)
        let config = try model.config()
        let out = URL(fileURLWithPath: output)
        try checkWritable(out)
        let urls: [URL]
        var dataset: Dataset?
        if let images {
            urls = try DatasetLoader.imageFiles(in: URL(fileURLWithPath: images), recursive: true)
        } else {
            let ds = try DatasetLoader.load(data.url!)
            log("data: \(ds.summary)")
            urls = ds.train.map(\.image)
            dataset = ds
        }
        let positives = dual.dual ? try dual.examples(dataset: dataset, defaultSyntheticFolder: URL(fileURLWithPath: output + ".synthetic")) : []
        let extractor = try FeatureExtractor(config: config, weights: try model.weightsURL())
        let result = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(urls),
                                              options: try fitOptions(dual: dual, positives: positives, threshold: threshold,
                                                                      skipBad: data.skipBad, featureMemoryMiB: model.featureMemory,
                                                                      normalAreas: try normalAreas.areas(dataset: dataset)),
                                              progress: TerminalProgress().handler)
        try ModelFile.write(result.model, to: out)
        printSummary(result, config: config, file: out)
        reportSkipped(result.skipped)
        reportPositiveWarnings(result.positiveWarnings)
    }
}

/// The lines `fit` and `evaluate --save-model` print about a fitted model.
func printSummary(_ result: FitResult, config: PatchCoreConfig, file: URL?) {
    let m = result.model, info = m.info, cal = m.calibration
    var lines = ["model:      \(file?.path ?? "not saved") (id \(m.id))"]
    // The neighbourhood is named only when it is not the paper's 3 x 3, as the model file records it.
    let neighbourhood = config.patchSize.map { " (\($0)x\($0) neighbourhood)" } ?? ""
    let images = "images:     \(info.trainImageCount) in the bank (\(result.patchCount) patches of dimension \(info.featureDimension)), \(result.calibrationImages.count) set the threshold"
    let backbone = "backbone:   \(config.backbone) taps \(config.taps.joined(separator: ","))\(neighbourhood), input \(config.transform)\(config.tile.map { ", \($0)" } ?? "")"
    if let (positive, dual) = m.banks.positive {
        lines[0] += " PatchCoreDual, score \(dual.scoring.rule.rawValue), isolation \(dual.isolation.mode.rawValue) at \(dual.isolation.scale.rawValue)"
        lines += [backbone, images,
                  "bank:       \(m.banks.normal.count) normal patches (coreset ratio \(dual.negativeCoresetRatio)\(info.streamedBank.map { "; \($0.description)" } ?? ""))",
                  "positive:   \(positive.count) defect patches of \(result.positivePatchCount) (coreset ratio \(dual.positiveCoresetRatio))",
                  "sources:    " + dual.sources.map { "\($0.source.description): \($0.images) image(s), \($0.regions) region(s), \($0.patches) patches" }
                      .joined(separator: "\n            ")]
    } else {
        lines += [backbone, images,
                  "bank:       \(m.banks.normal.count) patches (coreset ratio \(config.coresetRatio)\(info.streamedBank.map { "; \($0.description)" } ?? ""))"]
    }
    if let areas = info.defectNormalAreas {
        lines.append("normal:     + \(areas.patches) patches from the normal areas of \(areas.images) defect image(s) (margin \(areas.marginCells) cells)")
    }
    lines += ["threshold:  \(cal.threshold), score >= threshold is anomalous (\(cal.provenance))",
              "time:       features \(fmt(result.featureSeconds)) s, coreset \(fmt(result.coresetSeconds)) s, calibration \(fmt(result.calibrationSeconds)) s, total \(fmt(result.totalSeconds)) s"]
    print(lines.joined(separator: "\n"))
    for note in result.notes { log("note: \(note)") }
}

/// Refuses an output path that is a folder before any work is done.
func reportPositiveWarnings(_ warnings: [SkippedImage]) {
    guard !warnings.isEmpty else { return }
    log("warning: \(warnings.count) defect image/region note(s):")
    for w in warnings { log("  \(w.reason)") }
}

/// `--data` / `--manifest` where another source is possible too.
struct OptionalDataOptions: ParsableArguments {
    @Option(help: "Data set folder: MVTec AD category or KolektorSDD2 (layout auto-detected).") var data: String?
    @Option(help: "CSV manifest with columns image,mask,label,split (paths relative to the CSV).") var manifest: String?
    @Flag(help: "Continue past unreadable images and list them at the end.") var skipBad = false

    var url: URL? { (data ?? manifest).map { URL(fileURLWithPath: $0) } }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func fmt(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

func reportSkipped(_ skipped: [SkippedImage]) {
    guard !skipped.isEmpty else { return }
    log("skipped \(skipped.count) unreadable image(s):")
    for s in skipped { log("  \(s.reason)") }
}
