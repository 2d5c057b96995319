import ArgumentParser
import Datasets
import Foundation
import ImageIO
import PatchCore

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score images with a fitted model: score, decision, heatmap overlays, JSON lines.",
        discussion: """
        A part is anomalous when score >= threshold (the model's, set when it was fitted, or --threshold). One JSON \\
        line per image is appended as soon as it is scored (--json FILE, --json - for standard output, or \\
        <out>/predictions.jsonl). Give - as the only input to read image paths from standard input, one per line.
        Heatmaps are drawn on the image as it was given (not the model's crop), on the model's colour scale: \\
        nothing below the median good level, red at and above the threshold level.
        Exit status: 0 every image ok, 1 at least one anomalous, 2 an error or a skipped image (--skip-bad), \\
        64 a command-line mistake. --exit-zero returns 0 whenever every image was scored.
        """)

    @Option(help: "Model file written by `patchcore fit`.") var model: String
    @Option(help: "Backbone weights (default: the cached weights of the model's backbone).") var weights: String?
    @Argument(help: "Image files or folders of images; - reads paths from standard input.") var inputs: [String]
    @Option(help: "Folder for heatmaps/<name>.png (at the image's resolution), composites/ and predictions.jsonl.") var out: String?
    @Flag(help: "Replace the results of an earlier run in --out (otherwise a non-empty --out is refused).") var overwrite = false
    @Flag(help: "Also write anomalib-style strips (image | overlay | predicted region) to <out>/composites/.") var composite = false
    @Option(help: "JSON lines output, - for standard output (default: <out>/predictions.jsonl when --out is given).") var json: String?
    @Option(help: "Decision threshold on the raw score (default: the model's).") var threshold: Float?
    @Flag(help: "Continue past unreadable images and list them at the end.") var skipBad = false
    @Flag(help: "Exit 0 even when images are anomalous.") var exitZero = false
    @Option(help: "Compute threads (default: all cores).") var threads: Int?
    @Flag(help: "Score one blank image at the model's input size first, so the first image's latency does not include the first touch of the buffers (as `serve` does when it loads a model).")
    var warmUp = false
    @OptionGroup(title: "Search") var search: SearchOptions
    @OptionGroup(title: "Input limits") var limits: LimitOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one image file or folder, or - to read paths from standard input") }
        if inputs.contains("-"), inputs.count > 1 { throw ValidationError("- (paths from standard input) must be the only input") }
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be a finite number, got \(threshold)") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be in 1...256, got \(threads)") }
        if composite, out == nil { throw ValidationError("--composite needs --out DIR") }
    }

    func run() throws {
        var anomalous = 0, skipped: [SkippedImage] = []
        do {
            (anomalous, skipped) = try score()
        } catch let error as ValidationError {
            throw error
        } catch {
            log("error: \(UserFacingError.describe(error))")
            throw ExitCode(2)
        }
        reportSkipped(skipped)
        if !skipped.isEmpty { throw ExitCode(2) }
        if anomalous > 0, !exitZero { throw ExitCode(1) }
    }

    private func score() throws -> (anomalous: Int, skipped: [SkippedImage]) {
        applyThreads(threads)
        // Outputs that cannot be written are refused before any work.
        if let json, json != "-" { try checkWritable(URL(fileURLWithPath: json)) }
        if let out { try checkFolder(URL(fileURLWithPath: out)) }
        let scorer = try PatchCoreScorer.load(URL(fileURLWithPath: model), weights: weights.map { URL(fileURLWithPath: $0) },
                                              name: URL(fileURLWithPath: model).lastPathComponent, search: search.method)
        if scorer.search != .exact { log("search: \(scorer.searchSummary)") }
        if warmUp {
            let seconds = try scorer.warmUp()
            log("warm-up: \(scorer.warmUpSize.width)x\(scorer.warmUpSize.height) in \(String(format: "%.0f", seconds * 1000)) ms")
        }
        let fitted = scorer.model
        let files = try imageFiles()
        if files.isEmpty { throw ValidationError("no PNG/JPEG images found in \(inputs.joined(separator: ", "))") }

        let entries = ["heatmaps", "composites", "predictions.jsonl"]
        var staged: StagedOutputFolder?
        if let out {
            let outDir = URL(fileURLWithPath: out)
            if StagedOutputFolder.holdsResults(outDir, entries: entries), !overwrite {
                throw ValidationError("\(outDir.path) already holds results; pass --overwrite to replace them, or choose another --out")
            }
            // A folder of other things (often the images themselves) is not an output folder; --overwrite would
            // replace only this command's entries there and leave the rest, so it is refused without it.
            let others = StagedOutputFolder.otherContents(outDir, entries: entries)
            if !others.isEmpty, !overwrite {
                throw ValidationError("--out \(outDir.path) is not empty (\(others.prefix(3).joined(separator: ", "))\(others.count > 3 ? ", …" : "")); "
                    + "give a new or empty folder, or pass --overwrite to write predictions.jsonl and heatmaps/ beside them")
            }
            staged = try StagedOutputFolder(outDir, entries: entries)
        }
        do {
            let result = try score(scorer: scorer, model: fitted, files: files, staged: staged)
            try staged?.commit()
            if let staged, json == nil { log("wrote \(staged.finalURL("predictions.jsonl").path)") }
            return result
        } catch {
            if let kept = staged?.abandon() {
                log("note: the results of the images scored before the error are in \(kept.path); the previous results in \(out ?? "") are unchanged")
            }
            throw error
        }
    }

    /// Scores `files` in order, writing heatmaps and JSON lines into the staging folder (when --out is given).
    private func score(scorer: PatchCoreScorer, model fitted: PatchCoreModel, files: [URL],
                       staged: StagedOutputFolder?) throws -> (anomalous: Int, skipped: [SkippedImage]) {
        let sink = try JSONLinesSink(path: json ?? staged.map { $0.url("predictions.jsonl").path })
        // With JSON on standard output, the human-readable lines go to standard error.
        let say: (String) -> Void = sink.isStandardOutput ? { log($0) } : { print($0) }
        let rule = threshold.map { "score >= \($0) (given)" } ?? "score >= \(fitted.calibration.threshold) (\(fitted.calibration.provenance))"
        log("model \(scorer.identity); anomalous when \(rule)")
        log("input geometry: \(fitted.config.transform)\(fitted.config.tile.map { ", \($0)" } ?? "")")

        var anomalous = 0
        var skipped: [SkippedImage] = []
        var heatmapNames: [String: Int] = [:]  // images with the same name in different folders keep apart
        for url in files {
            var p: Prediction
            do { p = try scorer.predict(.file(url)) } catch {
                guard skipBad else { throw error }
                skipped.append(SkippedImage(file: url.path, reason: UserFacingError.describe(error)))
                continue
            }
            if let t = threshold { p.threshold = t; p.decision = p.score >= t ? .anomalous : .ok }
            var heatmap: String?
            if let staged {
                let stem = url.deletingPathExtension().lastPathComponent
                let seen = heatmapNames[stem, default: 0]
                heatmapNames[stem] = seen + 1
                let name = seen == 0 ? "\(stem).png" : "\(stem)-\(seen + 1).png"
                try ImageFile.writePNG(try HeatmapRenderer.overlay(p), to: staged.url("heatmaps").appendingPathComponent(name))
                if composite {
                    try ImageFile.writePNG(try HeatmapRenderer.composite(p), to: staged.url("composites").appendingPathComponent(name))
                }
                // The path it will have once the run is swapped in.
                heatmap = staged.finalURL("heatmaps").appendingPathComponent(name).path
            }
            let record = PredictionRecord(p, threshold: threshold, heatmap: heatmap)
            try sink.append(record)
            if record.anomalous { anomalous += 1 }
            // Geometry and patch count per image: they differ per image with --short-side / --native.
            let geometry = "\(p.input.width)x\(p.input.height), \(p.patchGrid.height * p.patchGrid.width) patches"
            say("\(record.anomalous ? "ANOMALOUS" : "ok       ")  \(String(format: "%10.4f", p.score))  \(url.path)  (\(geometry))")
        }
        if let path = sink.path, !sink.isStandardOutput, staged == nil || json != nil { log("wrote \(path)") }
        return (anomalous, skipped)
    }

    /// The image files of the inputs (folders recursively), or the paths on standard input for `-`.
    private func imageFiles() throws -> [URL] {
        if inputs == ["-"] {
            var urls: [URL] = []
            while let line = readLine() {
                let path = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if !path.isEmpty { urls.append(URL(fileURLWithPath: path)) }
            }
            return urls
        }
        var files: [URL] = []
        for input in inputs {
            let url = URL(fileURLWithPath: input)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
                throw ValidationError("\(input): no such file or folder")
            }
            files += isDir.boolValue ? try DatasetLoader.imageFiles(in: url, recursive: true) : [url]
        }
        return files
    }
}

/// Appends JSON lines as they come: to standard output (`-`), or to a file that is created (or emptied) when the
/// run starts and flushed after every line, so a reader sees each result as soon as it is scored.
final class JSONLinesSink {
    let path: String?
    private let handle: FileHandle?

    var isStandardOutput: Bool { path == "-" }

    init(path: String?) throws {
        self.path = path
        guard let path else { handle = nil; return }
        if path == "-" { handle = FileHandle.standardOutput; return }
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw ValidationError("--json \(path) is a folder; give a file path or -")
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        // O_TRUNC on the path itself: a symlink or a device (e.g. /dev/stdout) is written through, never replaced.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    func append(_ record: PredictionRecord) throws {
        guard let handle else { return }
        do { try handle.write(contentsOf: try record.jsonLine()) } catch {
            throw ValidationError("cannot write \(path == "-" ? "standard output" : path ?? ""): \(SystemErrorText.reason(error))")
        }
    }
}
