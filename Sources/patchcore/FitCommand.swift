import ArgumentParser
import Datasets
import Foundation
import PatchCore

struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a PatchCore model on good images and write the model file.",
        discussion: """
        Training images: --images DIR (a folder of good images), or the good training split of --data / --manifest.
        --dual (PatchCoreDual) adds a positive bank from the data set's training defects (split=train,label=defect) and \
        --positives DIR folders.
        """)

    @Option(help: "Folder of good images (PNG/JPEG).") var images: String?
    @OptionGroup var data: OptionalDataOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var dual: DualOptions
    @Option(name: .customLong("model"), help: "Output model file (.safetensors).") var output: String

    func validate() throws {
        let sources = [images != nil, data.data != nil, data.manifest != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one of --images DIR, --data DIR or --manifest FILE.csv") }
    }

    func run() throws {
        applyThreads(model.threads)
        let config = try model.config()
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
        if dual.dual {
            try runDual(config: config, goodImages: urls, dataset: dataset)
            return
        }
        let result = try PatchCoreTrainer.fit(config: config, weights: try model.weightsURL(), images: urls, skipBad: data.skipBad)
        let out = URL(fileURLWithPath: output)
        try ModelFile.write(result.model, to: out)
        let info = result.model.info
        print("""
        model:      \(out.path)
        backbone:   \(config.backbone) taps \(config.taps.joined(separator: ",")), input \(config.transform)
        images:     \(info.trainImageCount) (\(result.patchCount) patches of dimension \(info.featureDimension))
        bank:       \(result.model.bank.shape[0]) patches (coreset ratio \(config.coresetRatio))
        threshold:  \(info.calibration.threshold) (\(info.thresholdRule))
        time:       features \(fmt(result.featureSeconds)) s, coreset \(fmt(result.coresetSeconds)) s, total \(fmt(info.fitSeconds)) s
        """)
        reportSkipped(result.skipped)
    }
}

extension Fit {
    func runDual(config: PatchCoreConfig, goodImages: [URL], dataset: Dataset?) throws {
        let examples = try dual.examples(dataset: dataset)
        let extractor = try FeatureExtractor(config: config, weights: try model.weightsURL())
        let result = try PatchCoreTrainer.fitDual(extractor: extractor, goodImages: goodImages, positives: examples,
                                                  options: dual.fitOptions(), skipBad: data.skipBad)
        let out = URL(fileURLWithPath: output)
        try ModelFile.write(result.model, to: out)
        let info = result.model.info, record = result.model.dual!
        let sources = record.sources.map { "\($0.source.description): \($0.images) image(s), \($0.regions) region(s), \($0.patches) patches" }
        print("""
        model:      \(out.path) (PatchCoreDual, score \(record.scoring.rule.rawValue), isolation \(record.isolation.mode.rawValue) at \(record.isolation.scale.rawValue))
        backbone:   \(config.backbone) taps \(config.taps.joined(separator: ",")), input \(config.transform)
        images:     \(info.trainImageCount) (\(result.patchCount) patches of dimension \(info.featureDimension))
        bank:       \(result.model.bank.shape[0]) normal patches (coreset ratio \(record.negativeCoresetRatio))
        positive:   \(result.model.positiveBank!.shape[0]) defect patches of \(result.positivePatchCount) (coreset ratio \(record.positiveCoresetRatio))
        sources:    \(sources.joined(separator: "\n            "))
        threshold:  \(info.calibration.threshold) (\(info.thresholdRule))
        time:       features \(fmt(result.featureSeconds)) s, coresets \(fmt(result.coresetSeconds)) s, total \(fmt(info.fitSeconds)) s
        """)
        reportSkipped(result.skipped)
        reportPositiveWarnings(result.positiveWarnings)
    }
}

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
