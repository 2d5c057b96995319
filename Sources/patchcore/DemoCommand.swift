import ArgumentParser
import Datasets
import Foundation
import PatchCore

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate the built-in demo data set, fit, evaluate, and write a report with heatmaps.")

    @Option(help: "Output folder (data/, model.safetensors, report.md, report.html, metrics.json, heatmaps/).") var out = "out/demo"
    @Option(help: "Seed of the generated data set.") var dataSeed: UInt64 = 7
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var threshold: ThresholdOptions
    @OptionGroup(title: "Input limits") var limits: LimitOptions

    func run() throws {
        applyThreads(modelOptions.threads)
        let root = URL(fileURLWithPath: out)
        let dataDir = root.appendingPathComponent("data")
        if DatasetLoader.detectLayout(dataDir) == nil {
            log("generating demo data in \(dataDir.path)")
            try DemoDataset.generate(at: dataDir, seed: dataSeed)
        }
        let ds = try DatasetLoader.load(dataDir)
        log("data: \(ds.summary)")
        let run = try EvaluationJob(dataset: ds, modelFile: nil, options: modelOptions, threshold: threshold,
                                    saveModel: root.appendingPathComponent("model.safetensors"), out: root, composite: true,
                                    skipBad: false).run()
        print(run.report.textTable())
        print("report: \(root.appendingPathComponent("report.md").path) and \(root.appendingPathComponent("report.html").path)")
    }
}
