import Datasets
import Defects
import Foundation
import ImageIO
import Testing

/// `patchcore synthesize diffusion --model DIR` on the tiny randomly initialised SD and SDXL inpainting folders committed for the
/// Inpainting tests: the written set, its manifest, resume, mask sampling from a data set, and bad input.
@Suite(.serialized) struct SynthesizeDiffusionCLITests {
    /// Tests/InpaintingTests/Fixtures (CLITests has no resource bundle for them).
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("InpaintingTests/Fixtures")
    static let sd = fixtures.appendingPathComponent("sd_tiny")
    static let sdxl = fixtures.appendingPathComponent("sdxl_tiny")

    let root: URL
    let data: URL
    let good: URL
    let masks: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pc-synth-diff-\(UUID().uuidString)")
        data = root.appendingPathComponent("data")
        _ = try DemoDataset.generate(at: data, seed: 5, trainCount: 3, testGoodCount: 0, testDefectCount: 3, size: 64)
        good = data.appendingPathComponent("train/good")
        // Hand-drawn masks: a 64x64 blob, a 48x48 bar (placed at the image size), and an empty one (skipped).
        masks = root.appendingPathComponent("masks")
        try FileManager.default.createDirectory(at: masks, withIntermediateDirectories: true)
        try ImageFile.writePNG(Self.mask(64, 64) { x, y in (x - 30) * (x - 30) + (y - 26) * (y - 26) < 90 },
                               to: masks.appendingPathComponent("blob.png"))
        try ImageFile.writePNG(Self.mask(48, 48) { x, y in x >= 10 && x < 38 && y >= 20 && y < 26 },
                               to: masks.appendingPathComponent("bar.png"))
        try ImageFile.writePNG(Self.mask(64, 64) { _, _ in false }, to: masks.appendingPathComponent("empty.png"))
    }

    func cleanup() { try? FileManager.default.removeItem(at: root) }

    static func mask(_ w: Int, _ h: Int, _ inside: (Int, Int) -> Bool) -> Image {
        var pixels = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w where inside(x, y) { pixels[y * w + x] = 255 } }
        return Image(width: w, height: h, channels: 1, pixels: pixels)
    }

    /// Every pair in `out` is readable by the positive bank, image and mask of equal size, mask 0/255 and non-empty;
    /// every record's mask is the placement it names of its source mask file. Returns the records.
    func checkSet(_ out: URL, count: Int, imageSide: Int) throws -> [SyntheticDefectRecord] {
        let pairs = try SyntheticDefectSet.pairs(in: out)
        #expect(pairs.count == count)
        for pair in pairs {
            let image = try ImageFile.read(pair.image), mask = try ImageFile.read(pair.mask)
            #expect(image.width == imageSide && image.height == imageSide)
            #expect(mask.width == image.width && mask.height == image.height && mask.channels == 1)
            #expect(mask.pixels.allSatisfy { $0 == 0 || $0 == 255 } && mask.pixels.contains(255))
        }
        let records = try SyntheticDefectSet.records(in: out)
        #expect(records.count == count)
        #expect(Set(records.map(\.seed)).count == count, "each sample has its own seed")
        return records
    }

    /// The mask a record describes, redrawn from its source file and placement at the record's image size.
    func redrawnMask(_ r: SyntheticDefectRecord, width: Int, height: Int) throws -> Image {
        let p = r.parameters
        let placement = MaskPlacement(
            flipHorizontal: try #require(p["mask_flip_h"].flatMap { Bool($0) }),
            flipVertical: try #require(p["mask_flip_v"].flatMap { Bool($0) }),
            scale: try #require(p["mask_scale"].flatMap(Double.init)),
            shiftX: try #require(p["mask_shift_x"].flatMap(Int.init)), shiftY: try #require(p["mask_shift_y"].flatMap(Int.init)))
        let source = try ImageFile.read(URL(fileURLWithPath: try #require(r.sourceMask)))
        return DefectMaskSampler.place(source, placement, width: width, height: height)
    }

    @Test func stableDiffusionWritesThePositivesLayoutWithEveryParameterAndResumes() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("syn")
        let prompts = ["white marks on the wall", "copper metal scratches"]
        let args = ["synthesize", "diffusion", "--model", Self.sd.path, "--good", good.path, "--masks", masks.path,
                    "--prompt", prompts[0], "--prompt", prompts[1], "--negative-prompt", "smooth, plain",
                    "--steps", "2", "--guidance", "5", "--strength", "0.8", "--size", "64x64", "--seed", "7",
                    "--threads", "1", "--out", out.path]
        let first = try CLIRunner.run(args + ["--per-prompt", "2"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("wrote 4 sample(s)"), "\(first.stdout)")
        // Progress per step (step i/n, seconds per step, ETA) and per sample; the empty mask is reported at load.
        // PNDM (this model's scheduler) runs steps + 1 timesteps; strength 0.8 of 2 steps starts one later.
        #expect(first.stderr.contains("step 1/2") && first.stderr.contains("step 2/2") && !first.stderr.contains("step 3/"),
                "\(first.stderr)")
        #expect(first.stderr.contains("s/step") && first.stderr.contains("ETA"))
        #expect(first.stderr.contains("diffusion_p1_000001 written in"))
        #expect(first.stderr.contains("empty.png: empty mask"), "\(first.stderr)")

        let records = try checkSet(out, count: 4, imageSide: 64)
        #expect(records.map(\.id) == ["diffusion_p0_000000", "diffusion_p0_000001", "diffusion_p1_000000", "diffusion_p1_000001"])
        for r in records {
            let p = r.parameters
            #expect(r.generator == "diffusion" && r.negativePrompt == "smooth, plain")
            #expect(r.prompt == prompts[Int(p["prompt_index"] ?? "") ?? -1])
            #expect(p["model"] == Self.sd.path && p["family"] == "sd" && p["scheduler"] == "PNDMScheduler")
            #expect(p["steps"] == "2" && p["guidance_scale"] == "5.0" && p["strength"] == "0.8" && p["base_seed"] == "7")
            #expect(p["width"] == "64" && p["height"] == "64" && p["padding_mask_crop"] == "none" && p["mask_blur"] == "none")
            #expect(p["mask_source"] == "file")
            let sourceImage = try #require(r.sourceImage), sourceMask = try #require(r.sourceMask)
            #expect(sourceImage.hasPrefix(good.path) && FileManager.default.fileExists(atPath: sourceImage))
            #expect(["blob.png", "bar.png"].contains(URL(fileURLWithPath: sourceMask).lastPathComponent), "\(sourceMask)")
            // The mask draw is in the record: redrawing it gives the written mask.
            let written = try ImageFile.read(out.appendingPathComponent(r.mask))
            #expect(try redrawnMask(r, width: 64, height: 64) == written, "\(r.id)")
        }

        // Rerun with one more sample per prompt: the four written samples are skipped and stay as they were.
        let before = try Data(contentsOf: out.appendingPathComponent("images/diffusion_p1_000000.png"))
        let second = try CLIRunner.run(args + ["--per-prompt", "3"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("wrote 2 sample(s)") && second.stdout.contains("4 already there"), "\(second.stdout)")
        #expect(!second.stderr.contains("diffusion_p1_000000 written"))
        #expect(try Data(contentsOf: out.appendingPathComponent("images/diffusion_p1_000000.png")) == before)
        let all = try checkSet(out, count: 6, imageSide: 64)
        #expect(Array(all.prefix(4)) == records)
    }

    @Test func sdxlWithDataSetMasksNativeSizeVariantAndSchedulerOverride() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("syn-xl")
        let long = Array(repeating: "scratch", count: 90).joined(separator: " ")
        let r = try CLIRunner.run([
            "synthesize", "diffusion", "--model", Self.sdxl.path, "--variant", "fp16", "--scheduler", "ddim",
            "--data", data.path, "--defect-masks-from", data.path, "--include-test-defects", "--prompt", "copper metal scratches",
            "--prompt", long, "--per-prompt", "2", "--steps", "3", "--guidance", "20", "--padding-mask-crop", "2",
            "--mask-blur", "1.5", "--seed", "11", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("wrote 4 sample(s)"), "\(r.stdout)")
        // strength 0.99 of 3 steps runs 2; the over-long prompt is truncated with one warning for its two samples.
        #expect(r.stderr.contains("step 2/2") && !r.stderr.contains("step 3/"), "\(r.stderr)")
        #expect(r.stderr.components(separatedBy: "longer than 77 tokens").count == 2, "\(r.stderr)")

        // No --size: the model's native size (unet sample_size 8 x VAE factor 8), the data set's images are 64x64.
        let records = try checkSet(out, count: 4, imageSide: 64)
        let dataMasks = try DatasetLoader.load(data).samples.compactMap(\.mask).map(\.path)
        for rec in records {
            let p = rec.parameters
            #expect(p["family"] == "sdxl" && p["scheduler"] == "DDIMScheduler" && p["steps"] == "3")
            #expect(p["guidance_scale"] == "20.0" && p["strength"] == "0.99" && p["base_seed"] == "11")
            #expect(p["width"] == "64" && p["height"] == "64" && p["padding_mask_crop"] == "2" && p["mask_blur"] == "1.5")
            #expect(p["crop_region"] != nil)
            #expect(dataMasks.contains(try #require(rec.sourceMask)), "\(rec.sourceMask ?? "")")
            #expect(rec.sourceImage.map { $0.hasPrefix(data.appendingPathComponent("train/good").path) } == true)
            // The written mask is the blurred placed mask thresholded: it covers the placed mask's core.
            let placed = try redrawnMask(rec, width: 64, height: 64)
            #expect(placed.pixels.contains(255))
        }
    }

    @Test func badInputGetsClearMessagesAndANonZeroExit() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("syn").path
        let noUNet = root.appendingPathComponent("no-unet")
        try FileManager.default.createDirectory(at: noUNet, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.sd.appendingPathComponent("model_index.json"),
                                         to: noUNet.appendingPathComponent("model_index.json"))
        let emptyMasks = root.appendingPathComponent("no-masks")
        try FileManager.default.createDirectory(at: emptyMasks, withIntermediateDirectories: true)
        let base = ["synthesize", "diffusion", "--good", good.path, "--prompt", "scratch", "--per-prompt", "1", "--steps", "1",
                    "--size", "64x64", "--out", out]
        let cases: [([String], [String])] = [
            (["--model", root.appendingPathComponent("nowhere").path, "--masks", masks.path],
             ["no model folder here", "huggingface-cli download", "--model"]),
            (["--model", noUNet.path, "--masks", masks.path], ["no-unet/unet: missing", "no unet component folder", "download"]),
            (["--model", Self.sd.path, "--masks", emptyMasks.path], ["no-masks: no usable defect masks", "no .png/.jpg/.jpeg files"]),
            (["--model", Self.sd.path, "--masks", masks.path, "--scheduler", "sparkles"], ["sparkles"]),
            (["--model", Self.sd.path, "--masks", masks.path, "--size", "60x60"], ["'60x60' is invalid for '--size <WxH>'", "multiples of 8"]),
            (["--model", Self.sd.path, "--masks", masks.path, "--threads", "0"], ["--threads must be in 1...256, got 0"]),
            (["--model", Self.sd.path, "--masks", masks.path, "--methods", "cut_paste"], ["Unknown option '--methods'"]),
        ]
        for (args, messages) in cases {
            let r = try CLIRunner.run(base + args)
            // 1: a failed run, 64: a usage error; a crash would end with a signal instead.
            #expect(r.status == 1 || r.status == 64, "\(args): status \(r.status)\n\(r.stderr)")
            for m in messages { #expect(r.stderr.contains(m), "\(args): expected '\(m)' in \(r.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: out + "/manifest.jsonl"), "\(args) wrote output")
        }
        // Diffusion options are not options of `synthesize classical`, which refuses them by name.
        let classical = try CLIRunner.run(["synthesize", "classical", "--good", good.path, "--masks", masks.path, "--count", "1",
                                           "--variant", "fp16", "--out", out])
        #expect(classical.status == 64 && classical.stderr.contains("Unknown option '--variant'"), "\(classical.stderr)")
    }
}
