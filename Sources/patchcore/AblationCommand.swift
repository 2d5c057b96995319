import ArgumentParser
import Datasets
import Foundation
import PatchCore
import PatchCoreExperiments
import Scoring

/// `patchcore ablation`: PatchCore vs PatchCoreDual (real positives, + N synthetic) x every dual rule and isolation
/// mode on one data set and backbone, from one feature extraction; `<out>/ablation.json` and `<out>/ablation.md`.
struct Ablation: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "PatchCore vs PatchCoreDual ablation: image/pixel AUROC, AUPRO, F1-max for every positive set, rule and isolation.",
        discussion: """
        Extracts features once (training good images, test images, the training defects' regions, synthetic \
        positives), then builds the banks of every row and scores the stored test features. The PatchCore row uses \
        --negative-coreset-ratio (--coreset-ratio is ignored), so it equals `evaluate --coreset-ratio R`. Synthetic \
        positives come from the classical generator on the training good images and training defect masks, written \
        once into OUT/synthetic (nested: the first 50 of 150 are the 50-set; reruns reuse them), or from --positives \
        folders. --seed seeds the coresets and the generator.
        """)

    @OptionGroup var data: DataOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup(title: "Input limits") var limits: LimitOptions
    @Option(help: "Synthetic positives added to the real ones, comma-separated (0 = real only).")
    var syntheticCounts: String = "0,50,100,150"
    @Option(help: "Synthetic generator: classical (ignored when --positives folders are given).")
    var generator: String = "classical"
    @Option(help: "Folder of defect image + mask pairs used as the synthetic positives instead of the generator; repeatable.")
    var positives: [String] = []
    @Option(help: "Fraction of normal patches kept in the negative bank (also the PatchCore row's bank).")
    var negativeCoresetRatio: Double = DualFitOptions.defaultNegativeCoresetRatio
    @Option(help: "Fraction of defect patches kept in the positive bank.")
    var positiveCoresetRatio: Double = DualFitOptions.defaultPositiveCoresetRatio
    @Option(help: "Dual score rules to run, comma-separated (default: all of \(DualScoreRule.choices)).")
    var rules: String?
    @Option(help: "Isolations to run, comma-separated (default: all of \(AblationIsolation.choices); crop / mask_overlap at the thesis' resized-crop scale, image_scale_* with defects at the test images' scale).")
    var isolations: String?
    @Option(help: "Padding around a defect region's box, as a fraction of the image's shorter side.")
    var defectPadding: Double = DefectIsolation().padding
    @Option(help: "Dual scoring b: bank neighbours of m* (m+) in the weights.")
    var dualNeighbours: Int = DualScoring().numNeighbours
    @Option(help: "Dual scoring eps of s_N / (s_P + eps) and the patch ratio.")
    var dualEpsilon: Float = DualScoring().epsilon
    @Option(help: "Test images on which scoring is timed.")
    var timingImages: Int = 64
    @Option(help: "Training images (evenly spaced) that calibrate the log_ratio rule.")
    var calibrationImages: Int = 100
    @Option(help: "Output folder (ablation.json, ablation.md, ablation.html, synthetic/).")
    var out: String

    func parsedCounts() throws -> [Int] {
        let counts = syntheticCounts.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? -1) >= 0 }) else {
            throw ValidationError("--synthetic-counts must be comma-separated counts >= 0 (e.g. 0,50,100,150), got '\(syntheticCounts)'")
        }
        return counts.map { $0! }
    }

    func parsedList<T: RawRepresentable>(_ text: String?, name: String, all: [T], choices: String) throws -> [T] where T.RawValue == String {
        guard let text else { return all }
        return try text.split(separator: ",").map {
            let s = $0.trimmingCharacters(in: .whitespaces)
            guard let v = T(rawValue: s) else { throw ValidationError("\(name) takes \(choices), got '\(s)'") }
            return v
        }
    }

    func options() throws -> DualAblationOptions {
        DualAblationOptions(
            negativeCoresetRatio: negativeCoresetRatio, positiveCoresetRatio: positiveCoresetRatio,
            syntheticCounts: try parsedCounts(),
            synthetic: positives.isEmpty ? .classical : .folders(positives.map { URL(fileURLWithPath: $0) }),
            rules: try parsedList(rules, name: "--rules", all: DualScoreRule.allCases, choices: DualScoreRule.choices),
            isolations: try parsedList(isolations, name: "--isolations", all: AblationIsolation.allCases,
                                       choices: AblationIsolation.choices),
            defectPadding: defectPadding, numNeighbours: dualNeighbours, epsilon: dualEpsilon, seed: modelOptions.seed, timingImages: timingImages,
            calibrationImages: calibrationImages, skipBad: data.skipBad)
    }

    func validate() throws {
        guard generator == "classical" else {
            throw ValidationError("--generator must be classical (diffusion-made positives: write them with `patchcore synthesize diffusion` and pass --positives DIR), got '\(generator)'")
        }
        for (name, r) in [("--negative-coreset-ratio", negativeCoresetRatio), ("--positive-coreset-ratio", positiveCoresetRatio)] {
            guard r > 0, r <= 1 else { throw ValidationError("\(name) must be in (0, 1], got \(r)") }
        }
        guard defectPadding >= 0, defectPadding <= 1 else { throw ValidationError("--defect-padding must be in [0, 1], got \(defectPadding)") }
        guard dualNeighbours >= 1, dualEpsilon >= 0 else { throw ValidationError("--dual-neighbours must be >= 1 and --dual-epsilon >= 0") }
        guard timingImages >= 1, calibrationImages >= 1 else { throw ValidationError("--timing-images and --calibration-images must be >= 1") }
        _ = try options()
    }

    func run() throws {
        applyThreads(modelOptions.threads)
        let ds = try DatasetLoader.load(data.url)
        log("data: \(ds.summary)")
        var config = try modelOptions.config()
        config.coresetRatio = negativeCoresetRatio
        let extractor = try FeatureExtractor(config: config, weights: try modelOptions.weightsURL())
        let outURL = URL(fileURLWithPath: out)
        let report = try DualAblation.run(extractor: extractor, dataset: ds, options: try options(), out: outURL) { log($0) }
        print(report.markdown())
        log("wrote \(outURL.path)/ablation.{json,md,html}")
    }
}
