import ArgumentParser
import Datasets
import Foundation
import ImageIO
import PatchCore

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score images with a fitted model: score, decision, heatmap overlays, JSON lines.")

    @Option(help: "Model file written by `patchcore fit`.") var model: String
    @Option(help: "Backbone weights (default: the cached weights of the model's backbone).") var weights: String?
    @Argument(help: "Image files or folders of images.") var inputs: [String]
    @Option(help: "Folder for heatmap overlays (heatmaps/<name>.png) and predictions.jsonl.") var out: String?
    @Option(help: "JSON lines output (default: <out>/predictions.jsonl when --out is given).") var json: String?
    @Option(help: "Decision threshold on the raw score (default: the model's).") var threshold: Float?
    @Flag(help: "Continue past unreadable images and list them at the end.") var skipBad = false
    @Option(help: "Compute threads (default: all cores).") var threads: Int?

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one image file or folder") }
    }

    func run() throws {
        applyThreads(threads)
        let modelURL = URL(fileURLWithPath: model)
        let fitted = try ModelFile.read(modelURL)
        let weightsURL = try weights.map { URL(fileURLWithPath: $0) } ?? WeightsCatalog.locate(fitted.config.backbone)
        let scorer = try PatchCoreScorer(model: fitted, weights: weightsURL)

        var files: [URL] = []
        for input in inputs {
            let url = URL(fileURLWithPath: input)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
                throw ValidationError("\(input): no such file or folder")
            }
            files += isDir.boolValue ? try DatasetLoader.imageFiles(in: url, recursive: true) : [url]
        }
        if files.isEmpty { throw ValidationError("no PNG/JPEG images found in \(inputs.joined(separator: ", "))") }

        let outDir = out.map { URL(fileURLWithPath: $0) }
        let jsonURL = json.map { URL(fileURLWithPath: $0) } ?? outDir?.appendingPathComponent("predictions.jsonl")
        var records: [PredictionRecord] = []
        var skipped: [SkippedImage] = []
        var heatmapNames: [String: Int] = [:]  // images with the same name in different folders keep apart
        for url in files {
            let p: Prediction
            do { p = try scorer.predict(contentsOf: url) } catch {
                guard skipBad else { throw error }
                skipped.append(SkippedImage(file: url.path, reason: "\(error)"))
                continue
            }
            let t = threshold ?? p.threshold
            var heatmap: String?
            if let outDir {
                let stem = url.deletingPathExtension().lastPathComponent
                let seen = heatmapNames[stem, default: 0]
                heatmapNames[stem] = seen + 1
                let h = outDir.appendingPathComponent("heatmaps").appendingPathComponent(seen == 0 ? "\(stem).png" : "\(stem)-\(seen + 1).png")
                try HeatmapWriter.write(p, model: fitted, to: h)
                heatmap = h.path
            }
            let record = PredictionRecord(image: url.path, score: p.score, normalizedScore: p.normalizedScore, threshold: t,
                                          anomalous: p.score > t, label: nil, defectType: nil, heatmap: heatmap)
            records.append(record)
            print("\(record.anomalous ? "ANOMALOUS" : "ok       ")  \(String(format: "%10.4f", p.score))  \(url.path)")
        }
        if let jsonURL {
            try PredictionRecord.writeJSONLines(records, to: jsonURL)
            log("wrote \(jsonURL.path)")
        }
        reportSkipped(skipped)
    }
}
