import Foundation
import XCTest

/// Issue 11, "hostile input cannot crash it": every case of the malformed-input corpus
/// (`scripts/make_malformed_corpus.py`, described in bench/CORPUS.md) through the built `patchcore` binary.
/// Each case must end without a signal, within its time limit, with the expected status, with an error that names
/// the file or option, and without raw Foundation / runtime text on standard error.
///
/// Environment:
/// - `PATCHCORE_CORPUS_FILTER`: comma-separated classes (`image,model`) or id substrings (`png-ihdr`) to run
/// - `PATCHCORE_CORPUS_JOBS`: cases run at once (default 2)
/// - `PATCHCORE_CORPUS_TIMEOUT`: seconds per case unless the case says otherwise (default 20)
/// - `PATCHCORE_BIN`: the binary to test (default: the `patchcore` built beside the tests)
/// - `PATCHCORE_CORPUS_DIR`: where to build the corpus (default: a fresh temporary folder, removed afterwards)
/// - `PATCHCORE_CORPUS_REPORT`: write one JSON line per case (id, class, outcome, seconds, failure) to this file
final class MalformedCorpusTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static var executable: URL {
        if let path = environment["PATCHCORE_BIN"], !path.isEmpty { return URL(fileURLWithPath: path) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("patchcore").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("patchcore")
    }

    /// The cached MobileNetV2 weights (`patchcore weights fetch`), which the base model and every fit use.
    static func cachedWeights() -> URL? {
        let cache = environment["PATCHCORE_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/patchcore/weights")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []
        return names.first { $0.hasPrefix("mobilenet_v2-") && $0.hasSuffix(".pth") }.map { cache.appendingPathComponent($0) }
    }

    func testMalformedCorpusNeitherCrashesNorHangs() throws {
        let env = Self.environment
        // Part of every test run (about a minute); PATCHCORE_CORPUS=0 skips it while iterating on something else.
        guard env["PATCHCORE_CORPUS"] != "0" else { throw XCTSkip("PATCHCORE_CORPUS=0: the malformed-input corpus is skipped") }
        let bin = Self.executable
        guard FileManager.default.isExecutableFile(atPath: bin.path) else { throw XCTSkip("no patchcore binary at \(bin.path)") }
        guard let weights = Self.cachedWeights() else { throw XCTSkip("MobileNetV2 weights not cached (patchcore weights fetch)") }
        // The corpus generator is a standard-library Python script; without Python the corpus cannot be made.
        let searchPath = (env["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" }
        guard let python = (["/usr/bin/python3", "/usr/local/bin/python3"] + searchPath)
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no python3 to generate the malformed-input corpus")
        }

        let keep = env["PATCHCORE_CORPUS_DIR"].map { URL(fileURLWithPath: $0) }
        let root = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("pc-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(at: root) } }

        // 1. Base artifacts with the binary itself: the demo data set and a tiny model fitted on it (64x64 input).
        let demo = root.appendingPathComponent("demo")
        let model = demo.appendingPathComponent("model.safetensors")
        if !FileManager.default.fileExists(atPath: model.path) {
            let made = try CaseProcess.run(executable: bin.path, arguments: [
                "demo", "--out", demo.path, "--size", "64x64", "--coreset-ratio", "0.1", "--threads", "2",
                "--weights", weights.path,
            ], stdin: nil, workDir: root, timeout: 600)
            XCTAssertEqual(made.end, .exited(0), "patchcore demo failed: \(made.stderr)")
            guard made.end == .exited(0) else { return }
        }

        // 2. The corpus.
        let corpus = root.appendingPathComponent("corpus")
        let classes = Set(["image", "mask", "manifest", "weights-zip", "weights-legacy", "model", "diffusers",
                           "review", "positives", "cli"])
        let filter = (env["PATCHCORE_CORPUS_FILTER"] ?? "").split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
        var generatorArgs = [Self.repoRoot.appendingPathComponent("scripts/make_malformed_corpus.py").path,
                             "--model", model.path, "--weights", weights.path,
                             "--demo", demo.appendingPathComponent("data").path, "--out", corpus.path,
                             "--diffusers", Self.repoRoot.appendingPathComponent("Tests/InpaintingTests/Fixtures/sd_tiny").path]
        if !filter.isEmpty, filter.allSatisfy({ classes.contains($0) }) {
            generatorArgs += ["--classes", filter.joined(separator: ",")]
        }
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        let generated = try CaseProcess.run(executable: python.hasPrefix("/") ? python : "/usr/bin/env",
                                            arguments: python.hasPrefix("/") ? generatorArgs : ["python3"] + generatorArgs,
                                            stdin: nil, workDir: corpus, timeout: 900)
        XCTAssertEqual(generated.end, .exited(0), "generator failed: \(generated.stderr)")
        guard generated.end == .exited(0) else { return }

        let base = try JSONDecoder().decode([String: String].self,
                                            from: Data(contentsOf: corpus.appendingPathComponent("base.json")))
        let lines = try String(contentsOf: corpus.appendingPathComponent("cases.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        var cases = try lines.map { try JSONDecoder().decode(CorpusCase.self, from: Data($0.utf8)) }
        if !filter.isEmpty {
            cases = cases.filter { c in filter.contains { $0 == c.class || c.id.contains($0) } }
        }
        XCTAssertFalse(cases.isEmpty, "no cases match PATCHCORE_CORPUS_FILTER=\(filter)")
        if filter.isEmpty { XCTAssertGreaterThanOrEqual(cases.count, 300, "the corpus shrank") }

        // 3. Run every case, `jobs` at a time.
        let jobs = max(1, Int(env["PATCHCORE_CORPUS_JOBS"] ?? "") ?? 2)
        // An unoptimised binary fits 10-50x slower: give it room rather than report false hangs (run it
        // optimised, as `make test` does, or point PATCHCORE_BIN at a release build, for the 20 s limit).
        let debugBinary = env["PATCHCORE_BIN"] == nil && bin.path.contains("/debug/")
        let defaultTimeout = Double(env["PATCHCORE_CORPUS_TIMEOUT"] ?? "") ?? (debugBinary ? 120 : 20)
        if debugBinary { print("note: \(bin.path) is a debug build; per-case limit \(Int(defaultTimeout)) s") }
        // Swift's backtracer spends 5-15 s symbolicating each crash; an unsymbolicated one says enough here.
        let caseEnvironment = env["SWIFT_BACKTRACE"] == nil ? ["SWIFT_BACKTRACE": "enable=yes,symbolicate=off,interactive=no"] : [:]
        let runs = root.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var next = 0
            var outcomes: [Int: CaseOutcome] = [:]
            var errors: [Int: String] = [:]
        }
        let results = Results()
        let started = Date()
        let allCases = cases
        DispatchQueue.concurrentPerform(iterations: jobs) { _ in
            while true {
                let index: Int = results.lock.withLock { defer { results.next += 1 }; return results.next }
                guard index < allCases.count else { return }
                let c = allCases[index]
                let caseDir = corpus.appendingPathComponent("cases").appendingPathComponent(c.id)
                let work = runs.appendingPathComponent(c.id)
                let out = work.appendingPathComponent("out")
                do {
                    try? FileManager.default.removeItem(at: work)
                    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
                    var values = base
                    values["case"] = caseDir.path
                    values["out"] = out.path
                    func substitute(_ s: String) -> String {
                        var s = s
                        for (key, value) in values { s = s.replacingOccurrences(of: "{\(key)}", with: value) }
                        return s
                    }
                    let outcome = try CaseProcess.run(executable: bin.path, arguments: c.argv.map(substitute),
                                                      stdin: c.stdin.map(substitute), workDir: work,
                                                      timeout: c.timeout_s ?? defaultTimeout,
                                                      environment: caseEnvironment.merging((c.env ?? [:]).mapValues(substitute)) { $1 })
                    results.lock.withLock { results.outcomes[index] = outcome }
                } catch {
                    results.lock.withLock { results.errors[index] = "\(error)" }
                }
                try? FileManager.default.removeItem(at: work)
            }
        }
        let wall = Date().timeIntervalSince(started)

        // 4. Verdicts, all together.
        func substituteNames(_ c: CorpusCase) -> [String] {
            var values = base
            values["case"] = corpus.appendingPathComponent("cases").appendingPathComponent(c.id).path
            values["out"] = runs.appendingPathComponent(c.id).appendingPathComponent("out").path
            return c.names.map { name in
                var s = name
                for (key, value) in values { s = s.replacingOccurrences(of: "{\(key)}", with: value) }
                return s
            }
        }
        var failures: [String] = []
        var report = ""
        var crashes = 0, hangs = 0
        for (i, c) in allCases.enumerated() {
            let verdict: String?
            var outcomeText = "runner error", seconds = 0.0, firstLines = ""
            if let o = results.outcomes[i] {
                verdict = CaseCheck.failure(of: c, names: substituteNames(c), o)
                seconds = o.seconds
                switch o.end {
                case let .exited(s): outcomeText = "exit \(s)"
                case let .signalled(s): outcomeText = "signal \(s)"; crashes += 1
                case .timedOut: outcomeText = "timeout"; hangs += 1
                }
                // The error or runtime-failure lines if any, else the first line and the last two.
                let lines = o.stderr.split(separator: "\n")
                let errorLines = lines.filter { line in
                    ["error", "failure", "Fatal", "crashed"].contains { line.localizedCaseInsensitiveContains($0) }
                }
                let shown = !errorLines.isEmpty ? Array(errorLines.prefix(2))
                    : lines.count <= 3 ? Array(lines) : [lines[0]] + lines.suffix(2)
                firstLines = shown.joined(separator: " | ")
            } else {
                verdict = "runner error: \(results.errors[i] ?? "?")"
            }
            if let verdict {
                failures.append("\(c.id) [\(c.class)] \(outcomeText) \(String(format: "%.1f", seconds)) s: \(verdict)"
                                + (firstLines.isEmpty ? "" : "\n      stderr: \(firstLines.prefix(400))"))
            }
            let line: [String: Any] = ["id": c.id, "class": c.class, "expect": c.expect, "outcome": outcomeText,
                                       "seconds": (seconds * 100).rounded() / 100, "failure": verdict ?? NSNull(),
                                       "stderr": String(firstLines.prefix(600))]
            if let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) {
                report += String(decoding: data, as: UTF8.self) + "\n"
            }
        }
        if let path = env["PATCHCORE_CORPUS_REPORT"], !path.isEmpty {
            try report.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let summary = "\(allCases.count) cases in \(Int(wall)) s with \(jobs) jobs: \(failures.count) failed "
            + "(\(crashes) crashes, \(hangs) hangs)"
        print(summary)
        if !failures.isEmpty {
            XCTFail(summary + "\n" + failures.joined(separator: "\n"))
        }
    }
}
