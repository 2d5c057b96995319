import Datasets
import Foundation
import PatchCore
import Testing

/// `predict` and `evaluate` as a line uses them: streamed JSON lines, stdin/stdout, exit status, output folders that
/// never mix runs, thresholds that reproduce decisions. Uses the cached MobileNetV2 weights.
@Suite(.serialized) struct PredictCLITests {
    let root: URL
    let data: URL
    let model: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pc-predict-\(UUID().uuidString)")
        data = root.appendingPathComponent("data")
        _ = try DemoDataset.generate(at: data, seed: 4, trainCount: 14, testGoodCount: 4, testDefectCount: 6, size: 224)
        model = root.appendingPathComponent("m.safetensors").path
        let fit = try CLIRunner.run(["fit", "--data", data.path, "--model", model, "--coreset-ratio", "0.1"])
        guard fit.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: fit.stderr]) }
    }

    func cleanup() { try? FileManager.default.removeItem(at: root) }

    func records(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test func pathsOnStdinJSONOnStdoutAndExitStatus() throws {
        defer { cleanup() }
        let good = try DatasetLoader.imageFiles(in: data.appendingPathComponent("test/good"), recursive: false)
        let onlyGood = try CLIRunner.run(["predict", "--model", model, "--json", "-", "-"],
                                         standardInput: Data(good.map(\.path).joined(separator: "\n").utf8))
        #expect(onlyGood.status == 0, "all good parts: exit 0. \(onlyGood.stderr)")
        let lines = try records(onlyGood.stdout)
        #expect(lines.count == good.count, "stdout holds only the JSON lines: \(onlyGood.stdout)")
        for r in lines {
            #expect(r["anomalous"] as? Bool == false)
            for key in ["timestamp", "decision_rule", "model", "threshold", "normalized_score", "latency_ms"] { #expect(r[key] != nil, "\(key)") }
            // The stages add up to the latency (each rounded to 0.01 ms).
            let stages = try #require(r["stage_ms"] as? [String: Double])
            #expect(Set(stages.keys) == ["decode", "preprocess", "features", "search", "map"] && stages["features"]! > 0)
            #expect(abs(stages.values.reduce(0, +) - (r["latency_ms"] as! Double)) < 0.05, "\(stages) vs \(r["latency_ms"]!)")
            #expect((r["decision_rule"] as? String)?.contains("score >= threshold") == true)
        }
        #expect(onlyGood.stderr.contains("anomalous when score >="), "the rule is printed: \(onlyGood.stderr)")
        // --warm-up scores a blank image at the input size first and reports it; the scores stay the same.
        let warmed = try CLIRunner.run(["predict", "--model", model, "--warm-up", "--json", "-", good[0].path])
        #expect(warmed.status == 0 && warmed.stderr.contains("warm-up: 224x224 in "), "\(warmed.stderr)")
        #expect(try records(warmed.stdout).first?["score"] as? Double == lines.first?["score"] as? Double)

        let all = try CLIRunner.run(["predict", "--model", model, data.appendingPathComponent("test").path])
        #expect(all.status == 1, "defects present: exit 1. \(all.stderr)")
        let zero = try CLIRunner.run(["predict", "--model", model, "--exit-zero", data.appendingPathComponent("test").path])
        #expect(zero.status == 0)
        let missing = try CLIRunner.run(["predict", "--model", root.appendingPathComponent("nope.safetensors").path, good[0].path])
        #expect(missing.status == 2 && missing.stderr.contains("nope.safetensors"), "\(missing.stderr)")
        let nan = try CLIRunner.run(["predict", "--model", model, "--threshold", "nan", good[0].path])
        #expect(nan.status != 0 && nan.stderr.contains("--threshold"), "\(nan.stderr)")
    }

    @Test func approximateSearchIsOptInAndProbingEveryListScoresExactly() throws {
        defer { cleanup() }
        let test = data.appendingPathComponent("test").path
        func scores(_ extra: [String]) throws -> (scores: [Double], stderr: String, search: Set<String>) {
            let r = try CLIRunner.run(["predict", "--model", model, "--json", "-", "--exit-zero", test] + extra)
            #expect(r.status == 0, "\(extra): \(r.stderr)")
            let lines = try records(r.stdout)
            return (try lines.map { try #require($0["score"] as? Double) }, r.stderr, Set(lines.compactMap { $0["search"] as? String }))
        }
        let exact = try scores([])
        #expect(!exact.stderr.contains("search:"), "exact is the default and says nothing: \(exact.stderr)")
        #expect(exact.search == ["exact"], "every line says how it was searched")
        // More probes than lists: every list is visited, so the scores are the exact ones.
        let all = try scores(["--search", "ivf", "--probes", "100000"])
        #expect(all.scores == exact.scores)
        #expect(all.stderr.contains("search: inverted file"), "the approximate search is announced: \(all.stderr)")
        let one = try scores(["--search", "ivf", "--probes", "1", "--lists", "8"])
        #expect(one.scores.count == exact.scores.count && one.scores.allSatisfy(\.isFinite))
        #expect(one.search == ["inverted file: 1 of 8 lists (approximate)"], "\(one.search)")
        #expect(one.stderr.contains("search: inverted file: 1 of 8 lists (approximate)"), "\(one.stderr)")
        // Probe settings without the approximate search, or out of range, are refused before any work.
        for bad in [["--probes", "4"], ["--search", "ivf", "--probes", "0"], ["--search", "ivf", "--lists", "0"], ["--search", "fast"]] {
            let r = try CLIRunner.run(["predict", "--model", model, test] + bad)
            #expect(r.status == 64 || r.status == 2, "\(bad): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(bad[bad.count - 2]), "\(bad) is named: \(r.stderr)")
        }
        // More lists than bank rows: an error naming --lists' value, not a crash.
        let tooMany = try CLIRunner.run(["predict", "--model", model, "--search", "ivf", "--lists", "99999999", test])
        #expect(tooMany.status != 0 && tooMany.stderr.contains("99999999"), "\(tooMany.stderr)")
        // A threshold set on approximate scores would be applied to exact ones by predict: refused.
        let setOnApprox = try CLIRunner.run(["evaluate", "--data", data.path, "--set-threshold", "f1", "--save-model",
                                             root.appendingPathComponent("t.safetensors").path, "--search", "ivf"])
        #expect(setOnApprox.status != 0 && setOnApprox.stderr.contains("--search ivf"), "\(setOnApprox.stderr)")
    }

    @Test func aUsedOutputFolderIsRefusedOrReplacedNeverMixed() throws {
        defer { cleanup() }
        let out = root.appendingPathComponent("out")
        let first = try CLIRunner.run(["predict", "--model", model, "--out", out.path, "--composite", data.appendingPathComponent("test").path])
        #expect(first.status == 1, "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("composites").path))
        let again = try CLIRunner.run(["predict", "--model", model, "--out", out.path, data.appendingPathComponent("test/good").path])
        #expect(again.status != 0 && again.stderr.contains("--overwrite"), "\(again.stderr)")
        let replaced = try CLIRunner.run(["predict", "--model", model, "--out", out.path, "--overwrite",
                                          data.appendingPathComponent("test/good").path])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        let heatmaps = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("heatmaps").path)
        #expect(heatmaps.count == 4, "only this run's heatmaps: \(heatmaps)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("composites").path))
        #expect(try records(String(contentsOf: out.appendingPathComponent("predictions.jsonl"), encoding: .utf8)).count == 4)
    }

    @Test func jsonThroughASymlinkKeepsTheLink() throws {
        defer { cleanup() }
        let target = root.appendingPathComponent("real.jsonl"), link = root.appendingPathComponent("link.jsonl")
        try Data().write(to: target)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        let r = try CLIRunner.run(["predict", "--model", model, "--json", link.path, data.appendingPathComponent("test/good").path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)) == target.path)
        #expect(try records(String(contentsOf: target, encoding: .utf8)).count == 4)
        let toNull = try CLIRunner.run(["predict", "--model", model, "--json", "/dev/null", data.appendingPathComponent("test/good").path])
        #expect(toNull.status == 0, "\(toNull.stderr)")
        var isDir: ObjCBool = false
        let folder = try CLIRunner.run(["predict", "--model", model, "--json", root.path, data.appendingPathComponent("test/good").path])
        #expect(folder.status != 0 && folder.stderr.contains("is a folder"), "\(folder.stderr)")
        #expect(FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir) && isDir.boolValue)
    }

    /// The F1 threshold `evaluate` prints, stored with --set-threshold f1, gives predict the same decisions.
    @Test func f1ThresholdRoundTripsThroughTheModel() throws {
        defer { cleanup() }
        let json = root.appendingPathComponent("metrics.json"), saved = root.appendingPathComponent("f1.safetensors")
        let eval = try CLIRunner.run(["evaluate", "--model", model, "--data", data.path, "--json", json.path,
                                      "--set-threshold", "f1", "--save-model", saved.path, "--out", root.appendingPathComponent("eval").path])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        let f1 = try #require(metrics["f1_threshold"] as? Double)
        for key in ["false_reject_rate", "escape_rate", "threshold"] { #expect(metrics[key] != nil, "\(key)") }
        let stored = try ModelFile.read(saved)
        #expect(stored.calibration.threshold == Float(f1))
        #expect(stored.calibration.provenance.rule == .f1)
        let evalRecords = try records(String(contentsOf: root.appendingPathComponent("eval/predictions.jsonl"), encoding: .utf8))
        let predict = try CLIRunner.run(["predict", "--model", saved.path, "--json", "-", "--exit-zero", data.appendingPathComponent("test").path])
        let decided = Dictionary(uniqueKeysWithValues: try records(predict.stdout).map { ($0["image"] as! String, $0["anomalous"] as! Bool) })
        var f1Correct = 0
        for r in evalRecords {
            let image = r["image"] as! String, score = r["score"] as! Double
            #expect(decided[image] == (Float(score) >= Float(f1)), "\(image)")
            if decided[image] == ((r["label"] as? String) == "defect") { f1Correct += 1 }
        }
        #expect(f1Correct == evalRecords.count, "F1-max 1 on the demo set: every decision right")
    }
}
