import ArgumentParser
import Datasets
import Evaluation
import Foundation
import Reports
import PatchCore
import TensorCore

/// Which threshold `evaluate --set-threshold` stores in the saved model.
enum LabelledThreshold: String, CaseIterable, ExpressibleByArgument {
    /// The F1-optimal threshold on the test split.
    case f1
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate on a labelled test set: image/pixel AUROC, AUPRO, F1-max, AP, and false-reject / escape rates at the model's threshold.",
        discussion: """
        Without --model, fits on the data set's good training images first (fit time is reported). The F1 threshold \\
        and the model threshold use the same rule as predict: score >= threshold is anomalous. --set-threshold f1 \\
        stores the F1-optimal threshold of this test set in the model written by --save-model.
        """)

    @OptionGroup var data: DataOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threshold: ThresholdOptions
    @OptionGroup var dual: DualOptions
    @OptionGroup var normalAreas: NormalAreaOptions
    @OptionGroup(title: "Search") var search: SearchOptions
    @OptionGroup(title: "Input limits") var limits: LimitOptions
    @Option(help: "A fitted model file (plain or dual); when absent the model is fitted on the fly.") var model: String?
    @Option(help: "Save the model (fitted on the fly, or --model with --set-threshold) to this file.") var saveModel: String?
    @Option(help: "Store a threshold chosen on this labelled set in the saved model.") var setThreshold: LabelledThreshold?
    @Option(help: "Metrics JSON output.") var json: String?
    @Option(help: "Folder for heatmap overlays, predictions.jsonl and report.md.") var out: String?
    @Flag(help: "Also write anomalib-style strips (image | overlay | predicted region | ground truth) to <out>/composites/.")
    var composite = false

    func validate() throws {
        if setThreshold != nil, search.search != .exact {
            throw ValidationError("--set-threshold stores a threshold that predict applies to exact scores; evaluate it without --search ivf")
        }
        if setThreshold != nil, saveModel == nil { throw ValidationError("--set-threshold needs --save-model FILE (where the model with that threshold goes)") }
    }

    func run() throws {
        applyThreads(modelOptions.threads)
        for path in [json, saveModel].compactMap({ $0 }) { try checkWritable(URL(fileURLWithPath: path)) }
        if let out { try checkFolder(URL(fileURLWithPath: out)) }
        let ds = try DatasetLoader.load(data.url)
        log("data: \(ds.summary)")
        // Before any fitting: nothing to evaluate is the user's mistake, not a result.
        if ds.test.isEmpty { throw ValidationError("\(data.url.path): no test images (an evaluation needs rows or folders of the test split)") }
        if dual.dual, model != nil { log("note: --dual options are ignored with --model; the model file decides how it scores") }
        if normalAreas.normalFromDefects, model != nil { throw ValidationError("--normal-from-defects is a fitting option; it cannot change --model's bank") }
        let run = try EvaluationJob(dataset: ds, modelFile: model.map { URL(fileURLWithPath: $0) }, options: modelOptions,
                                    threshold: threshold, dual: dual.dual && model == nil ? dual : nil,
                                    normalAreas: model == nil ? try normalAreas.areas(dataset: ds) : nil,
                                    saveModel: saveModel.map { URL(fileURLWithPath: $0) }, setThreshold: setThreshold,
                                    out: out.map { URL(fileURLWithPath: $0) }, composite: composite, skipBad: data.skipBad,
                                    search: search.method).run()
        print(run.report.textTable())
        if let json { try AtomicFile.write(try run.report.jsonData(), to: URL(fileURLWithPath: json)); log("wrote \(json)") }
        reportSkipped(run.skipped)
    }
}

/// Fit-or-load, evaluate, and write the outputs of an evaluation (shared by `evaluate` and `demo`).
struct EvaluationJob {
    var dataset: Dataset
    var modelFile: URL?
    var options: ModelOptions
    var threshold: ThresholdOptions
    /// Fit PatchCoreDual on the fly (nil: plain PatchCore).
    var dual: DualOptions? = nil
    /// Normal areas of the training defects in the bank fitted on the fly.
    var normalAreas: DefectNormalAreas? = nil
    var saveModel: URL?
    var setThreshold: LabelledThreshold? = nil
    var out: URL?
    var composite = false
    var skipBad: Bool
    /// How the test images search the normal bank (fitting and its calibration always search exactly).
    var search: SearchMethod = .exact

    func run() throws -> PatchCoreEvaluator.Run {
        let progress = TerminalProgress().handler
        var scorer: PatchCoreScorer
        var fitSeconds = 0.0
        var skipped: [SkippedImage] = []
        if let modelFile {
            scorer = try PatchCoreScorer.load(modelFile, weights: options.weights.map { URL(fileURLWithPath: $0) }, search: search)
            fitSeconds = scorer.model.info.fitSeconds
        } else {
            let extractor = try FeatureExtractor(config: try options.config(), weights: try options.weightsURL())
            let positives = try dual?.examples(dataset: dataset, defaultSyntheticFolder: out?.appendingPathComponent("synthetic")) ?? []
            let fit = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(dataset.train.map(\.image)),
                                               options: try fitOptions(dual: dual, positives: positives,
                                                                       threshold: threshold, skipBad: skipBad,
                                                                       featureMemoryMiB: options.featureMemory,
                                                                       normalAreas: normalAreas),
                                               progress: progress)
            skipped = fit.skipped
            fitSeconds = fit.totalSeconds
            printSummary(fit, config: fit.model.config, file: setThreshold == nil ? saveModel : nil)
            reportPositiveWarnings(fit.positiveWarnings)
            if let saveModel, setThreshold == nil { try ModelFile.write(fit.model, to: saveModel); log("wrote \(saveModel.path)") }
            scorer = try PatchCoreScorer(model: fit.model, extractor: extractor, search: search)
        }
        if search != .exact { log("search: \(scorer.searchSummary)") }
        // Written into a staging folder and swapped in at the end: never old heatmaps beside new ones.
        let staged = try out.map { try StagedOutputFolder($0, entries: ["heatmaps", "composites", "predictions.jsonl", "metrics.json", "report.md", "report.html"]) }
        do {
            let run = try evaluate(scorer: scorer, fitSeconds: fitSeconds, fitSkipped: skipped, staged: staged)
            try staged?.commit()
            if let out { log("wrote \(out.path)/{metrics.json,report.md,report.html,predictions.jsonl,heatmaps/}") }
            return run
        } catch {
            if let kept = staged?.abandon() { log("note: the outputs written before the error are in \(kept.path)") }
            throw error
        }
    }

    private func evaluate(scorer: PatchCoreScorer, fitSeconds: Double, fitSkipped skipped: [SkippedImage],
                          staged: StagedOutputFolder?) throws -> PatchCoreEvaluator.Run {
        let heatmaps = staged?.url("heatmaps"), composites = composite ? staged?.url("composites") : nil
        var run = try PatchCoreEvaluator.evaluate(scorer: scorer, samples: dataset.test, fitSeconds: fitSeconds,
                                                  datasetName: dataset.name, skipBad: skipBad, heatmap: { p, sample, _ in
            guard let heatmaps, let staged else { return nil }
            try ImageFile.writePNG(try HeatmapRenderer.overlay(p), to: Self.overlay(in: heatmaps, image: sample.image.name, defectType: sample.defectType))
            if let composites {
                let mask = try sample.mask.map { try $0.load() }
                try ImageFile.writePNG(try HeatmapRenderer.composite(p, groundTruth: mask),
                                       to: Self.overlay(in: composites, image: sample.image.name, defectType: sample.defectType))
            }
            // The path it will have once the run is swapped in.
            return Self.overlay(in: staged.finalURL("heatmaps"), image: sample.image.name, defectType: sample.defectType).path
        }, progress: TerminalProgress().handler)
        run.skipped = skipped + run.skipped
        logGeometry(run, config: scorer.model.config)
        if let setThreshold, let saveModel {
            guard let f1 = run.report.f1Threshold else { throw ValidationError("the test split gave no F1 threshold") }
            var model = scorer.model
            let images = run.records.count
            try model.setThreshold(f1, provenance: ThresholdProvenance(rule: .f1, images: images,
                                                                       source: "labelled set \(dataset.name) (\(images) images)",
                                                                       estimator: "F1-max \(String(format: "%.4f", run.report.f1Max))"))
            try ModelFile.write(model, to: saveModel)
            log("wrote \(saveModel.path) with the \(setThreshold.rawValue) threshold \(f1) (was \(scorer.model.calibration.threshold))")
        }
        if let staged {
            try PredictionRecord.writeJSONLines(run.records, to: staged.url("predictions.jsonl"))
            try AtomicFile.write(try run.report.jsonData(), to: staged.url("metrics.json"))
            let method = scorer.model.banks.positive.map { "PatchCoreDual (\($0.info.scoring.rule.rawValue))" } ?? "PatchCore"
            let markdown = "# \(dataset.name): \(method) evaluation\n\n\(run.report.markdownTable())\n\nThreshold: \(scorer.model.calibration.threshold) (\(scorer.model.calibration.provenance)); a part is anomalous when score >= threshold.\n\nNearest-neighbour search: \(scorer.searchSummary).\n\nHeatmap overlays: `heatmaps/<defect type>/<image>.png`; per-image scores: `predictions.jsonl`.\n"
            try AtomicFile.write(Data(markdown.utf8), to: staged.url("report.md"))
            try writeHTMLReport(run, method: method, scorer: scorer, to: staged)
        }
        return run
    }

    /// report.html: the same metrics with ROC, precision-recall and score charts, the per-type table and the worst
    /// cases with their overlays, in one file.
    private func writeHTMLReport(_ run: PatchCoreEvaluator.Run, method: String, scorer: PatchCoreScorer,
                                 to staged: StagedOutputFolder) throws {
        let heatmaps = staged.url("heatmaps")
        let images = run.records.map { r in
            ReportImage(name: URL(fileURLWithPath: r.image).lastPathComponent, score: r.score,
                        isDefect: r.label == Label.defect.rawValue, defectType: r.defectType ?? r.label ?? "?",
                        overlay: Self.overlay(in: heatmaps, image: r.image, defectType: r.defectType ?? "unknown"))
        }
        let calibration = scorer.model.calibration
        let page = try EvaluationPage.make(title: "\(dataset.name): \(method) evaluation", report: run.report, images: images,
                                           threshold: calibration.threshold, note: "\(calibration.provenance)")
        let assets = ChartAssets.load()
        if assets == nil { log("warning: report.html without charts: \(ChartAssets.bundleName) is not beside the patchcore binary") }
        try AtomicFile.write(Data(try page.html(assets: assets).utf8), to: staged.url("report.html"))
    }

    /// Where the overlay of a test image goes: `<folder>/<defect type>/<image name>.png`.
    static func overlay(in folder: URL, image: String, defectType: String) -> URL {
        let name = URL(fileURLWithPath: image).deletingPathExtension().lastPathComponent + ".png"
        return folder.appendingPathComponent(defectType).appendingPathComponent(name)
    }
}

/// The input geometry and the patch count per image (they vary per image with --short-side / --native).
func logGeometry(_ run: PatchCoreEvaluator.Run, config: PatchCoreConfig) {
    let counts = run.records.compactMap(\.patches)
    guard let lo = counts.min(), let hi = counts.max() else { return }
    let mean = Double(counts.reduce(0, +)) / Double(counts.count)
    let sizes = Set(run.records.compactMap(\.inputSize))
    log("input geometry: \(config.transform)\(config.tile.map { ", \($0)" } ?? ""); \(sizes.count == 1 ? "input \(sizes.first!)" : "\(sizes.count) input sizes"); "
        + (lo == hi ? "\(lo) patches per image" : "\(lo)...\(hi) patches per image (mean \(Int(mean.rounded())))"))
}
