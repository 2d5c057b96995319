import Datasets
import Foundation
import ImageIO
import Testing

/// `patchcore synthesize classical` on a generated data set: the generator end to end, resume, and argument errors of
/// both subcommands and of `synthesize` without one.
@Suite(.serialized) struct SynthesizeCLITests {
    let root: URL
    let data: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pc-synth-\(UUID().uuidString)")
        data = root.appendingPathComponent("data")
        _ = try DemoDataset.generate(at: data, seed: 4, trainCount: 4, testGoodCount: 0, testDefectCount: 3, size: 64)
    }

    func cleanup() { try? FileManager.default.removeItem(at: root) }

    @Test func classicalWritesPairsAndAManifestAndResumes() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("syn")
        let args = ["synthesize", "classical", "--data", data.path, "--defect-masks-from", data.path,
                    "--include-test-defects", "--seed", "3", "--out", out.path]
        let first = try CLIRunner.run(args + ["--count", "4"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("wrote 4 sample(s)"))
        #expect(first.stderr.contains("methods: cut_paste, perlin_texture, perlin_intensity"))
        let lines = try String(contentsOf: out.appendingPathComponent("manifest.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        for k in 0..<4 {
            let id = String(format: "classical_%06d", k)
            let image = try ImageFile.read(out.appendingPathComponent("images/\(id).png"))
            let mask = try ImageFile.read(out.appendingPathComponent("masks/\(id).png"))
            #expect(image.width == 64 && mask.width == 64 && mask.channels == 1 && mask.pixels.contains(255))
        }
        let firstImages = try Data(contentsOf: out.appendingPathComponent("images/classical_000002.png"))
        let second = try CLIRunner.run(args + ["--count", "6"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("wrote 2 sample(s)") && second.stdout.contains("4 already there"))
        #expect(try Data(contentsOf: out.appendingPathComponent("images/classical_000002.png")) == firstImages)
        #expect(try String(contentsOf: out.appendingPathComponent("manifest.jsonl"), encoding: .utf8).split(separator: "\n").count == 6)
    }

    /// `synthesize classical` from the good training images alone: 3 perlin_intensity samples (no masks needed).
    func synthesizeThreePerlinSamples(into out: URL) throws -> CLIRunner.Result {
        try CLIRunner.run(["synthesize", "classical", "--good", data.appendingPathComponent("train/good").path, "--count", "3",
                           "--methods", "perlin_intensity", "--out", out.path])
    }

    @Test func reviewRecordsVerdictsAndWritesThePage() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("syn")
        let made = try synthesizeThreePerlinSamples(into: out)
        #expect(made.status == 0, "\(made.stderr)")
        let page = out.appendingPathComponent("review.html")
        #expect(made.stdout.contains("review page: \(page.path)"))
        #expect(try String(contentsOf: page, encoding: .utf8).contains("3 sample(s): 0 accepted, 0 rejected, 3 unreviewed"))

        let r = try CLIRunner.run(["review", out.path, "--reject", "classical_000001", "--accept", "classical_000000,classical_000002"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("3 sample(s) in \(out.path): 2 accepted, 1 rejected, 0 unreviewed (review.json updated)"))
        let json = try String(contentsOf: out.appendingPathComponent("review.json"), encoding: .utf8)
        #expect(json.contains("\"rejected\": [\"classical_000001\"]"))
        #expect(try String(contentsOf: page, encoding: .utf8).contains("data-id=\"classical_000001\" data-recorded=\"rejected\""))

        let unchanged = try CLIRunner.run(["review", out.path])
        #expect(unchanged.status == 0 && !unchanged.stdout.contains("updated"))
        let typo = try CLIRunner.run(["review", out.path, "--reject", "classical_00001"])
        #expect(typo.status != 0 && typo.stderr.contains("no sample with id 'classical_00001'"), "\(typo.stderr)")
        let both = try CLIRunner.run(["review", out.path, "--reject", "classical_000000", "--accept", "classical_000000"])
        #expect(both.status != 0 && both.stderr.contains("both --accept and --reject"), "\(both.stderr)")
        let missing = try CLIRunner.run(["review", root.appendingPathComponent("nothing").path])
        #expect(missing.status != 0 && missing.stderr.contains("not a folder of synthetic defects"), "\(missing.stderr)")
    }

    @Test func proceduralOnlyFromAFolderOfGoodImages() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("syn")
        let r = try synthesizeThreePerlinSamples(into: out)
        #expect(r.status == 0, "\(r.stderr)")
        let manifest = try String(contentsOf: out.appendingPathComponent("manifest.jsonl"), encoding: .utf8)
        #expect(manifest.split(separator: "\n").count == 3)
        #expect(manifest.split(separator: "\n").allSatisfy { $0.contains("\"method\":\"perlin_intensity\"") })
    }

    @Test func badArgumentsGetClearMessages() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("syn").path
        let emptyGood = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: emptyGood, withIntermediateDirectories: true)
        let fakeModel = root.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: fakeModel, withIntermediateDirectories: true)
        let good = data.appendingPathComponent("train/good").path
        let cases: [([String], String)] = [
            (["classical", "--good", emptyGood.path, "--count", "2", "--out", out], "no .png/.jpg/.jpeg images"),
            (["classical", "--good", good, "--count", "0", "--out", out], "number of samples"),
            (["classical", "--good", good, "--out", out], "Missing expected argument '--count <count>'"),
            (["classical", "--good", good, "--count", "2", "--per-prompt", "3", "--out", out], "Unknown option '--per-prompt'"),
            (["classical", "--good", good, "--data", data.path, "--count", "2", "--out", out], "exactly one source of good images"),
            (["classical", "--good", good, "--count", "2", "--methods", "cut_paste", "--out", out], "cut_paste"),
            // The library's message names the value; ArgumentParser adds the option.
            (["classical", "--good", good, "--count", "2", "--methods", "sparkles", "--out", out],
             "'sparkles' is invalid for '--methods <list>': unknown method 'sparkles'; choose from cut_paste"),
            (["classical", "--good", good, "--count", "2", "--given-mask-probability", "1.5", "--out", out], "given mask probability must be in [0, 1], got 1.5"),
            (["classical", "--good", good, "--count", "2", "--defect-masks-from", data.path, "--out", out], "--include-test-defects"),
            (["classical", "--good", good, "--count", "2", "--prompt", "scratch", "--out", out], "Unknown option '--prompt'"),
            (["classical", "--good", good, "--count", "2", "--placement", root.appendingPathComponent("nowhere.png").path, "--out", out], "nowhere.png"),
            // No subcommand: a usage error naming both, and which one takes what was given.
            (["--good", good, "--count", "2", "--out", out], "name the generator: `patchcore synthesize classical ...`"),
            (["--model", fakeModel.path, "--good", good, "--prompt", "x", "--out", out], "--model is an option of `synthesize diffusion`"),
            (["--generator", "classical", "--good", good, "--count", "2", "--out", out], "now `patchcore synthesize classical`"),
            (["diffusion", "--good", good, "--per-prompt", "2", "--prompt", "x", "--masks", good, "--out", out],
             "Missing expected argument '--model <model>'"),
            (["diffusion", "--model", fakeModel.path, "--good", good, "--per-prompt", "2", "--masks", good, "--out", out], "--prompt"),
            (["diffusion", "--model", fakeModel.path, "--good", good, "--per-prompt", "2", "--prompt", "x", "--out", out], "--masks DIR"),
            (["diffusion", "--model", fakeModel.path, "--good", good, "--per-prompt", "2", "--count", "2", "--prompt", "x", "--masks", good,
              "--out", out], "Unknown option '--count'"),
            (["diffusion", "--model", fakeModel.path, "--good", good, "--per-prompt", "2", "--prompt", "x", "--masks", good,
              "--strength", "1.5", "--out", out], "--strength must be in (0, 1]"),
            (["diffusion", "--model", fakeModel.path, "--good", good, "--per-prompt", "2", "--prompt", "x", "--masks", good,
              "--out", out], "model_index.json is missing"),
        ]
        for (args, message) in cases {
            let r = try CLIRunner.run(["synthesize"] + args)
            #expect(r.status != 0, "\(args) succeeded")
            #expect(r.stderr.contains(message) || r.stdout.contains(message), "\(args): expected '\(message)' in \(r.stderr)")
        }
        try Data("{}".utf8).write(to: fakeModel.appendingPathComponent("model_index.json"))
        let r = try CLIRunner.run(["synthesize", "diffusion", "--model", fakeModel.path, "--good", good, "--per-prompt", "2",
                                   "--prompt", "x", "--masks", good, "--out", out])
        #expect(r.status != 0 && r.stderr.contains("no unet component folder"), "\(r.stderr)")
    }
}
