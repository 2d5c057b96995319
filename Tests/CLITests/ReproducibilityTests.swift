import Datasets
import Foundation
import PatchCore
import Testing

/// Same data, settings and seed: a byte-identical model file and identical metrics, run after run and whatever the
/// thread count. Interrupted runs leave no temporary files and the previous results intact.
@Suite(.serialized) struct ReproducibilityTests {
    let root: URL
    let data: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pc-repro-\(UUID().uuidString)")
        data = root.appendingPathComponent("data")
        _ = try DemoDataset.generate(at: data, seed: 11, trainCount: 12, testGoodCount: 4, testDefectCount: 6, size: 224)
    }

    func cleanup() { try? FileManager.default.removeItem(at: root) }

    @Test func sameSeedGivesByteIdenticalModelsAndMetricsAcrossRunsAndThreads() throws {
        defer { cleanup() }
        var models: [Data] = []
        var metrics: [[String: Double]] = []
        for (run, threads) in [(1, 1), (2, 1), (3, 2)] {
            let model = root.appendingPathComponent("m\(run).safetensors"), json = root.appendingPathComponent("metrics\(run).json")
            let fit = try CLIRunner.run(["fit", "--data", data.path, "--model", model.path, "--seed", "7",
                                         "--threads", "\(threads)", "--coreset-ratio", "0.25"])
            #expect(fit.status == 0, "\(fit.stderr)")
            models.append(try Data(contentsOf: model))
            let eval = try CLIRunner.run(["evaluate", "--model", model.path, "--data", data.path, "--json", json.path,
                                          "--threads", "\(threads)"])
            #expect(eval.status == 0, "\(eval.stderr)")
            let all = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
            // Everything measured on the data; timings are not properties of the model.
            metrics.append(all.compactMapValues { $0 as? Double }.filter { !$0.key.contains("seconds") && !$0.key.contains("_ms") })
        }
        #expect(models[0].count > 1000)
        // Compared as Booleans: a failing `==` on two 700 KB Data values makes swift-testing diff them byte by byte,
        // which takes half an hour.
        let sameRuns = models[1] == models[0], sameThreads = models[2] == models[0]
        #expect(sameRuns, "two runs with --threads 1 differ from byte \(firstDifference(models[1], models[0]))")
        #expect(sameThreads, "--threads 2 differs from --threads 1 from byte \(firstDifference(models[2], models[0]))")
        #expect(metrics[0]["image_auroc"] != nil, "\(metrics[0].keys.sorted())")
        #expect(metrics[1] == metrics[0])
        #expect(metrics[2] == metrics[0])
        // A different seed is a different model: the comparison above can fail.
        let other = root.appendingPathComponent("seed8.safetensors")
        let fit = try CLIRunner.run(["fit", "--data", data.path, "--model", other.path, "--seed", "8", "--coreset-ratio", "0.25"])
        #expect(fit.status == 0, "\(fit.stderr)")
        let differs = try Data(contentsOf: other) != models[0]
        #expect(differs)
    }

    func firstDifference(_ a: Data, _ b: Data) -> Int {
        zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
    }

    /// SIGINT while `predict --overwrite` writes: the previous run's results stay whole, no staging folder or
    /// temporary file is left.
    @Test func interruptedPredictKeepsThePreviousResults() throws {
        defer { cleanup() }
        let model = root.appendingPathComponent("m.safetensors"), out = root.appendingPathComponent("out")
        let fit = try CLIRunner.run(["fit", "--data", data.path, "--model", model.path, "--coreset-ratio", "0.25"])
        #expect(fit.status == 0, "\(fit.stderr)")
        let test = data.appendingPathComponent("test").path
        let first = try CLIRunner.run(["predict", "--model", model.path, "--out", out.path, "--exit-zero", test])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try String(contentsOf: out.appendingPathComponent("predictions.jsonl"), encoding: .utf8)
        let heatmapsBefore = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("heatmaps").path).sorted()

        // The second run scores the good images 25 times over (100 images); it is interrupted as soon as it has
        // printed its first result line (standard output is line-buffered), with 99 images still to go.
        let p = Process()
        p.executableURL = CLIRunner.executable
        p.arguments = ["predict", "--model", model.path, "--out", out.path, "--overwrite", "--exit-zero"]
            + Array(repeating: data.appendingPathComponent("test/good").path, count: 25)
        let stdout = Pipe()
        p.standardOutput = stdout
        p.standardError = FileHandle.nullDevice
        try p.run()
        var seen = Data()
        while !seen.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        kill(p.processIdentifier, SIGINT)
        _ = stdout.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGINT,
                "dies of the signal, as the shell expects: \(p.terminationReason.rawValue) \(p.terminationStatus)")
        #expect(try String(contentsOf: out.appendingPathComponent("predictions.jsonl"), encoding: .utf8) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("heatmaps").path).sorted() == heatmapsBefore)
        let litter = try FileManager.default.subpathsOfDirectory(atPath: out.path).filter { $0.contains(".staging.") || $0.hasSuffix(".tmp") }
        #expect(litter.isEmpty, "\(litter)")
    }
}
