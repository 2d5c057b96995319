import Checkpoints
import Datasets
import Foundation
import ImageIO
import PatchCore
import Testing

/// The command-line tool on generated data, as a user runs it. Uses the cached MobileNetV2 weights
/// (`make test` fetches them first).
@Suite(.serialized) struct EndToEndTests {
    let root: URL
    let data: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pc-e2e-\(UUID().uuidString)")
        data = root.appendingPathComponent("data")
        _ = try DemoDataset.generate(at: data, seed: 3, trainCount: 12, testGoodCount: 4, testDefectCount: 6, size: 224)
    }

    func cleanup() { try? FileManager.default.removeItem(at: root) }

    @Test func fitPredictEvaluateOnAFolderOfGoodImages() throws {
        defer { cleanup() }
        let model = root.appendingPathComponent("m.safetensors").path
        let fit = try CLIRunner.run(["fit", "--images", data.appendingPathComponent("train/good").path,
                                     "--model", model, "--coreset-ratio", "0.25", "--seed", "1"])
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(fit.stdout.contains("bank:"))
        #expect(FileManager.default.fileExists(atPath: model))

        let out = root.appendingPathComponent("pred")
        let predict = try CLIRunner.run(["predict", "--model", model, "--out", out.path, data.appendingPathComponent("test").path])
        #expect(predict.status == 1, "exit 1: some images are anomalous. \(predict.stderr)")
        let lines = try String(contentsOf: out.appendingPathComponent("predictions.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        #expect(lines.count == 10)
        var good: [Double] = [], bad: [Double] = []
        for line in lines {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let image = try #require(obj["image"] as? String)
            let score = try #require(obj["score"] as? Double)
            let heatmap = try #require(obj["heatmap"] as? String)
            #expect(FileManager.default.fileExists(atPath: heatmap))
            if image.contains("/good/") { good.append(score) } else { bad.append(score) }
        }
        // Every generated defect scores above every good image on this easy demo set.
        #expect(try #require(good.max()) < (try #require(bad.min())))
        // Drawn on the image as given (224 x 224 here) with the legend band below it.
        let overlay = try ImageFile.read(out.appendingPathComponent("heatmaps/000.png"))
        #expect(overlay.width == 224 && overlay.height > 224)

        let json = root.appendingPathComponent("metrics.json").path
        let eval = try CLIRunner.run(["evaluate", "--model", model, "--data", data.path, "--json", json])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        for key in ["image_auroc", "pixel_auroc", "aupro", "f1_max", "average_precision", "n_test_images",
                    "fit_seconds", "inference_seconds_per_image"] {
            #expect(metrics[key] != nil, "missing \(key)")
        }
        #expect(metrics["n_test_images"] as? Int == 10)
        #expect(try #require(metrics["image_auroc"] as? Double) == 1.0)
        #expect(try #require(metrics["pixel_auroc"] as? Double) > 0.9)
    }

    @Test func evaluateFitsOnTheFlyAndWritesAReport() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("report")
        let r = try CLIRunner.run(["evaluate", "--data", data.path, "--coreset-ratio", "0.1", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("image AUROC"))
        for file in ["metrics.json", "report.md", "report.html", "predictions.jsonl", "heatmaps/good/000.png"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "missing \(file)")
        }
        // report.html carries its chart code (the binary found its resources) and the worst cases' overlays inline.
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("export function drawCharts") && !html.contains("charts-missing"))
        #expect(html.contains("id=\"worst-good\"") && html.contains("data:image/png;base64,"))
        #expect(!r.stderr.contains("without charts"))
    }

    @Test func corruptTrainingImageFailsNamingItOrIsSkipped() throws {
        defer { cleanup() }
        let train = data.appendingPathComponent("train/good")
        let bad = train.appendingPathComponent("zz_corrupt.png")
        var bytes = try Data(contentsOf: train.appendingPathComponent("000.png"))
        bytes = bytes.prefix(bytes.count / 3)
        try bytes.write(to: bad)
        let model = root.appendingPathComponent("m.safetensors").path

        let strict = try CLIRunner.run(["fit", "--images", train.path, "--model", model])
        #expect(strict.status != 0)
        #expect(strict.stderr.contains(bad.path))
        #expect(!FileManager.default.fileExists(atPath: model), "a failed fit must not leave a model file")

        let lenient = try CLIRunner.run(["fit", "--images", train.path, "--model", model, "--skip-bad", "--coreset-ratio", "0.2"])
        #expect(lenient.status == 0, "\(lenient.stderr)")
        #expect(lenient.stderr.contains("skipped 1 unreadable image"))
        #expect(lenient.stderr.contains(bad.path))
        // 12 readable images: 5 held out for the threshold, the unreadable one skipped from the other 8.
        #expect(lenient.stdout.contains("7 in the bank") && lenient.stdout.contains("5 set the threshold"), "\(lenient.stdout)")
    }

    @Test func truncatedModelFileIsAClearError() throws {
        defer { cleanup() }
        let model = root.appendingPathComponent("m.safetensors")
        let fit = try CLIRunner.run(["fit", "--images", data.appendingPathComponent("train/good").path,
                                     "--model", model.path, "--coreset-ratio", "0.2"])
        #expect(fit.status == 0, "\(fit.stderr)")
        let full = try Data(contentsOf: model)
        let cut = root.appendingPathComponent("cut.safetensors")
        try full.prefix(full.count - 1000).write(to: cut)
        let r = try CLIRunner.run(["predict", "--model", cut.path, data.appendingPathComponent("test/good").path])
        #expect(r.status != 0)
        #expect(r.stderr.contains(cut.path) && r.stderr.contains("truncated"))
    }

    @Test func scoringWithOtherWeightsIsRefused() throws {
        defer { cleanup() }
        let model = root.appendingPathComponent("m.safetensors")
        let fit = try CLIRunner.run(["fit", "--images", data.appendingPathComponent("train/good").path,
                                     "--model", model.path, "--coreset-ratio", "0.2"])
        #expect(fit.status == 0, "\(fit.stderr)")
        // The same tensors in another file (safetensors) load fine but are not the file the model was fitted with.
        let original = try CheckpointLoader.load(try WeightsCatalog.locate("mobilenet_v2"))
        let converted = root.appendingPathComponent("mobilenet_v2.safetensors")
        try SafeTensors.write(original.tensors, to: converted)
        let r = try CLIRunner.run(["predict", "--model", model.path, "--weights", converted.path,
                                   data.appendingPathComponent("test/good").path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("fitted with weights"))
    }

    @Test func emptyFolderAndBadOptionsAreExplained() throws {
        defer { cleanup() }
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let r = try CLIRunner.run(["fit", "--images", empty.path, "--model", root.appendingPathComponent("x.safetensors").path])
        #expect(r.status != 0)
        #expect(r.stderr.contains(empty.path))

        let ratio = try CLIRunner.run(["fit", "--images", empty.path, "--model", "x", "--coreset-ratio", "1.5"])
        #expect(ratio.status != 0)
        #expect(ratio.stderr.contains("coreset_ratio must be in (0, 1], got 1.5"), "the library names the value: \(ratio.stderr)")

        let size = try CLIRunner.run(["evaluate", "--data", data.path, "--size", "banana"])
        #expect(size.status != 0)
        #expect(size.stderr.contains("--size"))
    }

    @Test func mapBlurAndReweightingAreModelSettings() throws {
        defer { cleanup() }
        let good = data.appendingPathComponent("train/good").path
        let model = root.appendingPathComponent("m.safetensors")
        let fit = try CLIRunner.run(["fit", "--images", good, "--model", model.path, "--coreset-ratio", "0.25",
                                     "--blur-sigma", "2.5", "--reweight-neighbours", "1"])
        #expect(fit.status == 0, "\(fit.stderr)")
        let config = try ModelFile.read(model).config
        #expect(config.blurSigma == 2.5)
        #expect(config.reweightNeighbours == 1)
        #expect(config.imageScore == nil)                           // the default (patch) leaves the file as before
        let mapMax = try CLIRunner.run(["fit", "--images", good, "--model", model.path, "--coreset-ratio", "0.25",
                                        "--image-score", "map_max"])
        #expect(mapMax.status == 0, "\(mapMax.stderr)")
        #expect(try ModelFile.read(model).config.imageScore == .mapMax)
        let unknown = try CLIRunner.run(["fit", "--images", good, "--model", "x", "--image-score", "mean"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("--image-score") && unknown.stderr.contains("map_max"), "\(unknown.stderr)")

        #expect(try ModelFile.read(model).config.patchSize == nil)   // the default (3) leaves the file as before
        let wide = try CLIRunner.run(["fit", "--images", good, "--model", model.path, "--coreset-ratio", "0.25",
                                      "--patch-size", "5"])
        #expect(wide.status == 0, "\(wide.stderr)")
        #expect(wide.stdout.contains(" (5x5 neighbourhood), input "), "\(wide.stdout)")
        #expect(!mapMax.stdout.contains("neighbourhood"), "\(mapMax.stdout)")     // the default 3 is not named
        #expect(try ModelFile.read(model).config.patchSize == 5)
        let scored = try CLIRunner.run(["predict", "--model", model.path, "--json", "-",
                                        data.appendingPathComponent("test/good").path])
        #expect(scored.status == 0 || scored.status == 1, "\(scored.stderr)")
        #expect(scored.stdout.contains("\"score\""), "\(scored.stdout.prefix(300))")
        for bad in ["4", "0", "17", "-3"] {
            let refused = try CLIRunner.run(["fit", "--images", good, "--model", "x", "--patch-size=\(bad)"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("patch_size must be odd in 1...15, got \(bad)"), "\(refused.stderr)")
        }

        let sigma = try CLIRunner.run(["fit", "--images", good, "--model", "x", "--blur-sigma=-1"])
        #expect(sigma.status != 0)
        #expect(sigma.stderr.contains("blur_sigma must be in 0...64.0 (input pixels), got -1.0"), "\(sigma.stderr)")
        let k = try CLIRunner.run(["evaluate", "--data", data.path, "--reweight-neighbours", "0"])
        #expect(k.status != 0)
        #expect(k.stderr.contains("reweight_neighbours must be in 1...1000, got 0"), "\(k.stderr)")
    }

    @Test func maskOfTheWrongSizeNamesTheMask() throws {
        defer { cleanup() }
        let masks = data.appendingPathComponent("ground_truth")
        let type = try #require(try FileManager.default.contentsOfDirectory(atPath: masks.path).sorted().first)
        let maskFile = try #require(try FileManager.default.contentsOfDirectory(at: masks.appendingPathComponent(type), includingPropertiesForKeys: nil).sorted { $0.path < $1.path }.first)
        try ImageFile.writePNG(Image(width: 10, height: 10, channels: 1, pixels: [UInt8](repeating: 255, count: 100)), to: maskFile)
        let r = try CLIRunner.run(["evaluate", "--data", data.path, "--coreset-ratio", "0.2"])
        #expect(r.status != 0)
        #expect(r.stderr.contains(maskFile.path))
    }
}


/// `Examples/InspectFolder`, the library's smallest client, fits and inspects as its README call site promises.
@Suite struct InspectFolderExampleTests {
    @Test func fitsOnAFolderAndPrintsADecisionPerImage() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pc-example-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try DemoDataset.generate(at: root, seed: 5, trainCount: 12, testGoodCount: 2, testDefectCount: 3, size: 224)
        let example = CLIRunner.executable.deletingLastPathComponent().appendingPathComponent("InspectFolder")
        let r = try CLIRunner.run([root.appendingPathComponent("train/good").path, root.appendingPathComponent("test").path],
                                  executable: example)
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("ok\t") || $0.hasPrefix("anomalous\t") }
        #expect(rows.count == 5, "\(r.stdout)")
        #expect(r.stdout.contains("threshold"))
    }
}
