import ArgumentParser
import Datasets
import Evaluation
import Foundation
import PatchCore
import TensorCore

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate on a labelled test set: image/pixel AUROC, AUPRO, F1-max, AP.",
        discussion: "Without --model, fits on the data set's good training images first (fit time is reported).")

    @OptionGroup var data: DataOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var dual: DualOptions
    @Option(help: "A fitted model file (plain or dual); when absent the model is fitted on the fly.") var model: String?
    @Option(help: "Save the model fitted on the fly to this file.") var saveModel: String?
    @Option(help: "Metrics JSON output.") var json: String?
    @Option(help: "Folder for heatmap overlays, predictions.jsonl and report.md.") var out: String?

    func run() throws {
        applyThreads(modelOptions.threads)
        let ds = try DatasetLoader.load(data.url)
        log("data: \(ds.summary)")
        if dual.dual, model != nil { log("note: --dual options are ignored with --model; the model file decides how it scores") }
        let run = try EvaluationJob(dataset: ds, modelFile: model.map { URL(fileURLWithPath: $0) }, options: modelOptions,
                                    dual: dual.dual && model == nil ? dual : nil,
                                    saveModel: saveModel.map { URL(fileURLWithPath: $0) },
                                    out: out.map { URL(fileURLWithPath: $0) }, skipBad: data.skipBad).run()
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
    /// Fit PatchCoreDual on the fly (nil: plain PatchCore).
    var dual: DualOptions? = nil
    /// Positive examples beside the data set's training defects and --positives folders (e.g. synthetic ones).
    var extraPositives: [PositiveExample] = []
    var saveModel: URL?
    var out: URL?
    var skipBad: Bool

    func run() throws -> PatchCoreEvaluator.Run {
        let scorer: PatchCoreScorer
        var fitSeconds = 0.0
        var skipped: [SkippedImage] = []
        if let modelFile {
            let fitted = try ModelFile.read(modelFile)
            let weights = try options.weights.map { URL(fileURLWithPath: $0) } ?? WeightsCatalog.locate(fitted.config.backbone)
            scorer = try PatchCoreScorer(model: fitted, weights: weights)
            fitSeconds = fitted.info.fitSeconds
        } else if let dual {
            let extractor = try FeatureExtractor(config: try options.config(), weights: try options.weightsURL())
            let examples = try dual.examples(dataset: dataset) + extraPositives
            let fit = try PatchCoreTrainer.fitDual(extractor: extractor, goodImages: dataset.train.map(\.image), positives: examples,
                                                   options: dual.fitOptions(), skipBad: skipBad)
            skipped = fit.skipped
            fitSeconds = fit.model.info.fitSeconds
            log("fitted PatchCoreDual (\(fit.model.dual!.scoring.rule.rawValue)): negative bank \(fit.model.bank.shape[0]) x \(fit.model.bank.shape[1]) from \(fit.patchCount) patches, positive bank \(fit.model.positiveBank!.shape[0]) from \(fit.positivePatchCount) defect patches in \(fmt(fitSeconds)) s")
            reportPositiveWarnings(fit.positiveWarnings)
            if let saveModel { try ModelFile.write(fit.model, to: saveModel); log("wrote \(saveModel.path)") }
            scorer = try PatchCoreScorer(model: fit.model, extractor: extractor)
        } else {
            let extractor = try FeatureExtractor(config: try options.config(), weights: try options.weightsURL())
            let fit = try PatchCoreTrainer.fit(extractor: extractor, images: dataset.train.map(\.image), skipBad: skipBad)
            skipped = fit.skipped
            fitSeconds = fit.model.info.fitSeconds
            log("fitted: bank \(fit.model.bank.shape[0]) x \(fit.model.bank.shape[1]) from \(fit.patchCount) patches in \(fmt(fitSeconds)) s (features \(fmt(fit.featureSeconds)) s, coreset \(fmt(fit.coresetSeconds)) s)")
            if let saveModel { try ModelFile.write(fit.model, to: saveModel); log("wrote \(saveModel.path)") }
            scorer = try PatchCoreScorer(model: fit.model, extractor: extractor)
        }
        var run = try PatchCoreEvaluator.evaluate(scorer: scorer, samples: dataset.test, fitSeconds: fitSeconds,
                                                  datasetName: dataset.name,
                                                  heatmaps: out?.appendingPathComponent("heatmaps"), skipBad: skipBad)
        run.skipped = skipped + run.skipped
        if let out {
            try PredictionRecord.writeJSONLines(run.records, to: out.appendingPathComponent("predictions.jsonl"))
            try AtomicFile.write(try run.report.jsonData(), to: out.appendingPathComponent("metrics.json"))
            let method = scorer.model.isDual ? "PatchCoreDual (\(scorer.model.dual!.scoring.rule.rawValue))" : "PatchCore"
            let markdown = "# \(dataset.name): \(method) evaluation\n\n\(run.report.markdownTable())\n\nHeatmap overlays: `heatmaps/<defect type>/<image>.png`; per-image scores: `predictions.jsonl`.\n"
            try AtomicFile.write(Data(markdown.utf8), to: out.appendingPathComponent("report.md"))
            log("wrote \(out.path)/{metrics.json,report.md,predictions.jsonl,heatmaps/}")
        }
        return run
    }
}
