import Checkpoints
import Datasets
import Defects
import Foundation
import ImageIO
import PatchCore
import Testing

/// `fit --dual` / `evaluate --dual` / `predict` on a dual model, on generated data: demo training images, and the
/// defective test images of a second demo set (another seed) listed as training defects in a CSV manifest.
@Suite(.serialized) struct DualCLITests {
    let root: URL
    let manifest: URL
    let size = 128

    init() throws {
        let data = try DemoWithTrainingDefects(prefix: "pc-dual", seed: 3, defectSeed: 21, trainDefects: 6, size: size)
        root = data.root
        manifest = data.manifest
    }

    func cleanup() { try? FileManager.default.removeItem(at: root) }

    func metrics(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    var common: [String] { ["--size", "\(size)x\(size)", "--seed", "1"] }

    @Test func fitPredictEvaluateDual() throws {
        defer { cleanup() }
        let model = root.appendingPathComponent("dual.safetensors")
        let fit = try CLIRunner.run(["fit", "--manifest", manifest.path, "--dual", "--model", model.path,
                                     "--negative-coreset-ratio", "0.1", "--positive-coreset-ratio", "0.5"] + common)
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(fit.stdout.contains("PatchCoreDual"))
        #expect(fit.stdout.contains("train_defects"))
        let fitted = try ModelFile.read(model)
        #expect(fitted.isDual)
        #expect(fitted.banks.positive?.info.sources.first?.images == 6)
        #expect(fitted.banks.positive?.info.files.count == 6)
        #expect(fitted.banks.positive?.info.scoring.rule == .patchLogRatio)
        #expect(fitted.banks.positive?.info.scoring.logRatioCalibration != nil, "patch_log_ratio is calibrated at fit")
        #expect(fitted.banks.positive?.info.isolation.scale == .imageScale && fitted.banks.positive?.info.isolation.mode == .maskOverlap)
        #expect(fitted.info.thresholdCalibration != nil)
        #expect((fitted.banks.positive?.bank.count ?? 0) > 0)
        let header = try SafeTensors.read(model).metadata
        #expect(header["format_version"] == "2")

        // predict works on the dual model file unchanged.
        let out = root.appendingPathComponent("pred")
        let predict = try CLIRunner.run(["predict", "--model", model.path, "--out", out.path,
                                         root.appendingPathComponent("data/test").path])
        #expect(predict.status == 1, "exit 1: the test split has defects. \(predict.stderr)")
        let lines = try String(contentsOf: out.appendingPathComponent("predictions.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 10)

        // evaluate --dual (fits on the fly) and evaluate of the saved dual model: the plain report's JSON keys.
        let plainJSON = root.appendingPathComponent("plain.json"), dualJSON = root.appendingPathComponent("dual.json")
        let plain = try CLIRunner.run(["evaluate", "--manifest", manifest.path, "--coreset-ratio", "0.1", "--json", plainJSON.path] + common)
        #expect(plain.status == 0, "\(plain.stderr)")
        let dual = try CLIRunner.run(["evaluate", "--manifest", manifest.path, "--dual", "--dual-score", "at_negative_argmax",
                                      "--negative-coreset-ratio", "0.1", "--positive-coreset-ratio", "0.5",
                                      "--json", dualJSON.path, "--out", root.appendingPathComponent("report").path] + common)
        #expect(dual.status == 0, "\(dual.stderr)")
        #expect(dual.stdout.contains("PatchCoreDual, score at_negative_argmax"), "\(dual.stdout)")
        let p = try metrics(plainJSON), d = try metrics(dualJSON)
        #expect(Set(p.keys) == Set(d.keys))
        for key in ["image_auroc", "pixel_auroc", "aupro", "f1_max"] {
            let v = try #require(d[key] as? Double, "\(key)")
            #expect(v >= 0 && v <= 1, "\(key) = \(v)")
        }
        // The demo defects are easy: the dual model separates them too.
        #expect(try #require(d["image_auroc"] as? Double) >= 0.9)
        #expect(try #require(d["pixel_auroc"] as? Double) > 0.8)
        print("demo, plain vs dual (at_negative_argmax): image AUROC \(p["image_auroc"]!) vs \(d["image_auroc"]!), pixel AUROC \(p["pixel_auroc"]!) vs \(d["pixel_auroc"]!), s/image \(p["inference_seconds_per_image"]!) vs \(d["inference_seconds_per_image"]!)")

        let saved = try CLIRunner.run(["evaluate", "--manifest", manifest.path, "--model", model.path] + common.prefix(2))
        #expect(saved.status == 0, "\(saved.stderr)")
    }

    /// `--normal-from-defects`: the training defects' normal areas join a plain bank (fit and evaluate), recorded in
    /// the model and printed; misuses are refused before any work.
    @Test func normalAreasOfTheTrainingDefects() throws {
        defer { cleanup() }
        let model = root.appendingPathComponent("areas.safetensors")
        let fit = try CLIRunner.run(["fit", "--manifest", manifest.path, "--normal-from-defects", "--defect-margin", "2",
                                     "--coreset-ratio", "0.1", "--model", model.path] + common)
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(fit.stderr.contains("normal areas: 6 training defect image(s)"), "\(fit.stderr)")
        let record = try #require(try ModelFile.read(model).info.defectNormalAreas)
        #expect(record.images == 6 && record.marginCells == 2 && record.patches > 0)
        #expect(fit.stdout.contains("normal:     + \(record.patches) patches from the normal areas of 6 defect image(s) (margin 2 cells)"), "\(fit.stdout)")
        #expect(try !ModelFile.read(model).isDual)

        let json = root.appendingPathComponent("areas.json")
        let evaluate = try CLIRunner.run(["evaluate", "--manifest", manifest.path, "--normal-from-defects", "--coreset-ratio", "0.1",
                                          "--json", json.path] + common)
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
        #expect(try #require(try metrics(json)["image_auroc"] as? Double) >= 0.9)

        let images = try CLIRunner.run(["fit", "--images", root.appendingPathComponent("data/train").path,
                                        "--normal-from-defects", "--model", model.path] + common)
        #expect(images.status != 0 && images.stderr.contains("--images"), "\(images.stderr)")
        let margin = try CLIRunner.run(["fit", "--manifest", manifest.path, "--defect-margin", "3", "--model", model.path] + common)
        #expect(margin.status != 0 && margin.stderr.contains("--defect-margin needs --normal-from-defects"), "\(margin.stderr)")
        let range = try CLIRunner.run(["fit", "--manifest", manifest.path, "--normal-from-defects", "--defect-margin", "65",
                                       "--model", model.path] + common)
        #expect(range.status != 0 && range.stderr.contains("65"), "\(range.stderr)")
        let loaded = try CLIRunner.run(["evaluate", "--manifest", manifest.path, "--model", model.path, "--normal-from-defects"] + common.prefix(2))
        #expect(loaded.status != 0 && loaded.stderr.contains("--normal-from-defects"), "\(loaded.stderr)")
    }

    @Test func positivesFolderAndBadDefects() throws {
        defer { cleanup() }
        // A --positives folder: one good pair, one empty mask, one mask of another size, one 1-pixel region.
        let folder = root.appendingPathComponent("positives")
        let images = folder.appendingPathComponent("images"), masks = folder.appendingPathComponent("masks")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: masks, withIntermediateDirectories: true)
        let defectImage = try ImageFile.read(root.appendingPathComponent("defects/test").appendingPathComponent(
            try #require(FileManager.default.subpathsOfDirectory(atPath: root.appendingPathComponent("defects/test").path)
                .filter { $0.hasSuffix(".png") }.sorted().first)))
        func mask(_ w: Int, _ h: Int, _ on: [(Int, Int)]) -> Image {
            var px = [UInt8](repeating: 0, count: w * h)
            for (x, y) in on { px[y * w + x] = 255 }
            return Image(width: w, height: h, channels: 1, pixels: px)
        }
        let block = (40..<60).flatMap { y in (50..<70).map { x in (x, y) } }
        try ImageFile.writePNG(defectImage, to: images.appendingPathComponent("a.png"))
        try ImageFile.writePNG(mask(size, size, block), to: masks.appendingPathComponent("a.png"))
        try ImageFile.writePNG(defectImage, to: images.appendingPathComponent("b.png"))
        try ImageFile.writePNG(mask(size, size, []), to: masks.appendingPathComponent("b.png"))
        try ImageFile.writePNG(defectImage, to: images.appendingPathComponent("c.png"))
        try ImageFile.writePNG(mask(size / 2, size / 2, [(10, 10), (11, 10), (10, 11), (11, 11)]), to: masks.appendingPathComponent("c.png"))
        try ImageFile.writePNG(defectImage, to: images.appendingPathComponent("d.png"))
        try ImageFile.writePNG(mask(size, size, [(5, 100)]), to: masks.appendingPathComponent("d.png"))

        let model = root.appendingPathComponent("m.safetensors")
        let fit = try CLIRunner.run(["fit", "--images", root.appendingPathComponent("data/train/good").path, "--dual",
                                     "--positives", folder.path, "--isolation", "mask_overlap", "--dual-score", "thesis",
                                     "--defect-scale", "resized_crop",
                                     "--negative-coreset-ratio", "0.1", "--model", model.path] + common)
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(fit.stderr.contains("b.png: empty mask"), "\(fit.stderr)")
        #expect(fit.stderr.contains("c.png: mask is 64x64"), "\(fit.stderr)")
        let fitted = try ModelFile.read(model)
        #expect(fitted.banks.positive?.info.sources.first?.source.kind == .folder)
        #expect(fitted.banks.positive?.info.sources.first?.images == 3, "a, c (resized mask) and d (1-pixel region) are kept")
        #expect(fitted.banks.positive?.info.isolation.mode == .maskOverlap)
        #expect(fitted.banks.positive?.info.scoring.rule == .thesis && fitted.banks.positive?.info.isolation.scale == .resizedCrop)

        // Only empty masks: nothing usable is an error, not a crash.
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty.appendingPathComponent("images"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: empty.appendingPathComponent("masks"), withIntermediateDirectories: true)
        let noPairs = try CLIRunner.run(["fit", "--images", root.appendingPathComponent("data/train/good").path, "--dual",
                                         "--positives", empty.path, "--model", model.path] + common)
        #expect(noPairs.status != 0)
        #expect(noPairs.stderr.contains(empty.path) && noPairs.stderr.contains("no image + mask pairs"), "\(noPairs.stderr)")
        try FileManager.default.copyItem(at: images.appendingPathComponent("b.png"), to: empty.appendingPathComponent("images/b.png"))
        try FileManager.default.copyItem(at: masks.appendingPathComponent("b.png"), to: empty.appendingPathComponent("masks/b.png"))
        let allEmpty = try CLIRunner.run(["fit", "--images", root.appendingPathComponent("data/train/good").path, "--dual",
                                          "--positives", empty.path, "--model", root.appendingPathComponent("x.safetensors").path] + common)
        #expect(allEmpty.status != 0)
        #expect(allEmpty.stderr.contains("no usable defect region"), "\(allEmpty.stderr)")

        // No positives at all, and bad option values.
        let none = try CLIRunner.run(["fit", "--data", root.appendingPathComponent("data").path, "--dual", "--model", model.path] + common)
        #expect(none.status != 0 && none.stderr.contains("--positives"), "\(none.stderr)")
        let rule = try CLIRunner.run(["fit", "--data", root.appendingPathComponent("data").path, "--dual", "--dual-score", "banana", "--model", model.path])
        #expect(rule.status != 0 && ["thesis", "at_negative_argmax", "log_ratio", "patch_log_ratio"].allSatisfy(rule.stderr.contains),
                "the choices are listed: \(rule.stderr)")
        let orphan = try CLIRunner.run(["fit", "--data", root.appendingPathComponent("data").path, "--positives", folder.path, "--model", model.path])
        #expect(orphan.status != 0 && orphan.stderr.contains("--positives needs --dual"), "\(orphan.stderr)")
    }

    /// `--synthetic N` adds N classical samples made from the training images (cut-paste from the training defects'
    /// masks), recorded as a synthetic source; a rerun reuses the folder; without --dual or with diffusion it is refused.
    @Test func syntheticPositivesOnTheFly() throws {
        defer { cleanup() }
        let model = root.appendingPathComponent("syn.safetensors")
        let args = ["fit", "--manifest", manifest.path, "--dual", "--model", model.path, "--synthetic", "5",
                    "--negative-coreset-ratio", "0.1", "--positive-coreset-ratio", "0.5"] + common
        let fit = try CLIRunner.run(args)
        #expect(fit.status == 0, "\(fit.stderr)")
        let folder = URL(fileURLWithPath: model.path + ".synthetic")
        let pairs = try SyntheticDefectSet.pairs(in: folder)
        #expect(pairs.count == 5)
        let fitted = try ModelFile.read(model)
        let synthetic = try #require(fitted.banks.positive?.info.sources.first { $0.source.kind == .synthetic })
        #expect(synthetic.images == 5 && synthetic.source.count == 5 && synthetic.source.generator == "classical")
        #expect(fitted.banks.positive?.info.sources.contains { $0.source.kind == .trainDefects } == true)
        let before = try Data(contentsOf: pairs[0].image)
        let again = try CLIRunner.run(args)
        #expect(again.status == 0 && again.stderr.contains("0 new, 5 reused"), "\(again.stderr)")
        #expect(try Data(contentsOf: pairs[0].image) == before)

        let plain = try CLIRunner.run(["fit", "--manifest", manifest.path, "--synthetic", "5", "--model", model.path])
        #expect(plain.status != 0 && plain.stderr.contains("--synthetic needs --dual"), "\(plain.stderr)")
        let diffusion = try CLIRunner.run(["fit", "--manifest", manifest.path, "--dual", "--synthetic", "5",
                                           "--generator", "diffusion", "--model", model.path])
        #expect(diffusion.status != 0 && diffusion.stderr.contains("--generator") && diffusion.stderr.contains("synthesize diffusion"), "\(diffusion.stderr)")
    }
}
