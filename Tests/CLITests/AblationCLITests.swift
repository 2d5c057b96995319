import Datasets
import Foundation
import PatchCore
import PatchCoreExperiments
import Scoring
import Testing

/// `patchcore ablation` on generated data: demo training images, and the defective test images of a second demo
/// set listed as training defects in a CSV manifest (real positives), plus classical synthetic positives.
@Suite(.serialized) struct AblationCLITests {
    let root: URL
    let manifest: URL
    let demo: URL
    let size = 128

    init() throws {
        let data = try DemoWithTrainingDefects(prefix: "pc-ablation", seed: 5, defectSeed: 23, trainDefects: 5, size: size)
        root = data.root
        manifest = data.manifest
        demo = data.demo
    }

    func cleanup() { try? FileManager.default.removeItem(at: root) }

    func json(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    var common: [String] { ["--size", "\(size)x\(size)", "--seed", "1", "--negative-coreset-ratio", "0.1", "--timing-images", "4"] }

    @Test func tableRowsMetricsAndSingleBankParity() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("ablation")
        let args = ["ablation", "--manifest", manifest.path, "--synthetic-counts", "0,2,4", "--positive-coreset-ratio", "0.5",
                    "--out", out.path] + common
        let run = try CLIRunner.run(args)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(DualAblationReport.self, from: Data(contentsOf: out.appendingPathComponent("ablation.json")))
        let rules = DualScoreRule.allCases.count, modes = AblationIsolation.allCases.count
        // PatchCore + (real, real + 2, real + 4) x isolation x rule.
        #expect(report.rows.count == 1 + 3 * modes * rules)
        #expect(report.realDefectImages == 5)
        #expect(report.rows[0].method == "PatchCore")
        for name in ["real", "real + 2 synthetic", "real + 4 synthetic"] {
            for mode in AblationIsolation.allCases {
                let rows = report.rows.filter { $0.positives == name && $0.isolation == mode.rawValue }
                #expect(Set(rows.compactMap(\.rule)) == Set(DualScoreRule.allCases.map(\.rawValue)), "\(name) \(mode)")
            }
        }
        // One default row per positive set: the default rule with the isolation closest to `fit --dual`'s default.
        let closest = AblationIsolation.fitDefault
        let defaults = report.rows.filter(\.isDefault)
        #expect(defaults.count == (closest == nil ? 0 : 3))
        #expect(defaults.allSatisfy { $0.rule == DualScoreRule.default.rawValue && $0.isolation == closest?.rawValue })
        for r in report.rows {
            for (k, v) in [("image", r.imageAUROC), ("pixel", r.pixelAUROC ?? -1), ("aupro", r.aupro ?? -1), ("f1", r.f1Max)] {
                #expect(v >= 0 && v <= 1, "\(r.positives) \(r.rule ?? "-") \(k) = \(v)")
            }
            #expect(r.fitSeconds > 0 && r.scoreMsPerImage > 0 && r.inferenceRatio > 0)
        }
        // Positive banks grow with the synthetic count; mask_overlap keeps a subset of the crop's patches.
        for mode in AblationIsolation.allCases {
            let patches = ["real", "real + 2 synthetic", "real + 4 synthetic"].map { name in
                report.rows.first { $0.positives == name && $0.isolation == mode.rawValue }?.positivePatches ?? 0
            }
            #expect(patches[0] > 0 && patches[0] < patches[1] && patches[1] < patches[2], "\(mode): \(patches)")
        }
        let crop = report.rows.first { $0.positives == "real" && $0.isolation == "crop" }!.positivePatches!
        let overlap = report.rows.first { $0.positives == "real" && $0.isolation == "mask_overlap" }!.positivePatches!
        let full = report.rows.first { $0.positives == "real" && $0.isolation == "image_scale_mask_overlap" }!.positivePatches!
        #expect(overlap < crop && full < crop)
        let markdown = try String(contentsOf: out.appendingPathComponent("ablation.md"), encoding: .utf8)
        #expect(markdown.contains("| method | positives | rule | isolation | image AUROC | pixel AUROC | AUPRO | F1-max |"))
        #expect(markdown.contains("real + 4 synthetic"))
        let html = try String(contentsOf: out.appendingPathComponent("ablation.html"), encoding: .utf8)
        #expect(html.contains("real + 4 synthetic") && html.contains("id=\"metrics-chart\"") && html.contains("export function drawCharts"))

        // The PatchCore row is what `patchcore evaluate` gives with the same coreset ratio and a bank of every training
        // image (no held-out calibration share, as in the ablation).
        let evalJSON = root.appendingPathComponent("eval.json")
        let evaluate = try CLIRunner.run(["evaluate", "--manifest", manifest.path, "--size", "\(size)x\(size)", "--seed", "1",
                                          "--coreset-ratio", "0.1", "--calibration-split", "0", "--json", evalJSON.path])
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
        let e = try json(evalJSON), single = report.rows[0]
        let pairs: [(String, Double?)] = [("image_auroc", single.imageAUROC), ("pixel_auroc", single.pixelAUROC),
                                          ("aupro", single.aupro), ("f1_max", single.f1Max)]
        for (key, mine) in pairs {
            let theirs = try #require(e[key] as? Double, "\(key)")
            let diff = abs(theirs - (mine ?? -1))
            print("ablation PatchCore row vs evaluate, \(key): \(mine ?? -1) vs \(theirs), |diff| \(diff)")
            #expect(diff <= 1e-9, "\(key)")
        }

        // Synthetic sets: written once, nested prefixes, reused on rerun (nothing rewritten, same table).
        let synthetic = out.appendingPathComponent("synthetic/images")
        let files = try FileManager.default.contentsOfDirectory(atPath: synthetic.path).sorted()
        #expect(files.count == 4)
        let before = try Data(contentsOf: synthetic.appendingPathComponent(files[0]))
        let stamp = try FileManager.default.attributesOfItem(atPath: synthetic.appendingPathComponent(files[3]).path)[.modificationDate] as? Date
        let rerun = try CLIRunner.run(args)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("synthetic: 0 written, 4 already"))
        let stampAfter = try FileManager.default.attributesOfItem(atPath: synthetic.appendingPathComponent(files[3]).path)[.modificationDate] as? Date
        #expect(stamp == stampAfter)
        let again = try JSONDecoder().decode(DualAblationReport.self, from: Data(contentsOf: out.appendingPathComponent("ablation.json")))
        #expect(again.rows.map(\.imageAUROC) == report.rows.map(\.imageAUROC))
        #expect(again.rows.map(\.pixelAUROC) == report.rows.map(\.pixelAUROC))
        // A smaller count in a fresh folder makes the same first samples (nested sets).
        let small = root.appendingPathComponent("small")
        let two = try CLIRunner.run(["ablation", "--manifest", manifest.path, "--synthetic-counts", "2", "--rules", "thesis",
                                     "--isolations", "crop", "--out", small.path] + common)
        #expect(two.status == 0, "\(two.stderr)")
        let smallFiles = try FileManager.default.contentsOfDirectory(atPath: small.appendingPathComponent("synthetic/images").path).sorted()
        #expect(smallFiles == Array(files.prefix(2)))
        #expect(try Data(contentsOf: small.appendingPathComponent("synthetic/images").appendingPathComponent(files[0])) == before)
    }

    @Test func syntheticOnlyWithoutTrainingDefects() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("bottle-like")
        let run = try CLIRunner.run(["ablation", "--data", demo.path, "--synthetic-counts", "0,3", "--isolations", "mask_overlap",
                                     "--out", out.path] + common)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(DualAblationReport.self, from: Data(contentsOf: out.appendingPathComponent("ablation.json")))
        // No real defects: N = 0 has no positives, so PatchCore + 3 synthetic x 1 isolation x every rule.
        #expect(report.realDefectImages == 0)
        #expect(report.rows.count == 1 + DualScoreRule.allCases.count)
        #expect(report.rows.dropFirst().allSatisfy { $0.positives == "3 synthetic" && $0.realPositives == 0 && $0.syntheticPositives == 3 })
        #expect(report.syntheticSource?.contains("perlin") == true)
        #expect(report.syntheticSource?.contains("cut_paste") == false)
    }

    @Test func emptyPositivesFolderIsAClearError() throws {
        defer { cleanup() }
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let run = try CLIRunner.run(["ablation", "--data", demo.path, "--positives", empty.path, "--synthetic-counts", "2",
                                     "--out", root.appendingPathComponent("x").path] + common)
        #expect(run.status != 0)
        #expect(run.stderr.contains(empty.path), "\(run.stderr)")
    }
}
