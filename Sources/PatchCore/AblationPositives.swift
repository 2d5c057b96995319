import Foundation
import ImageIO
import TensorCore

/// Isolated defect patches of many positive examples for several isolation modes from ONE backbone pass per defect
/// region: the crops (`DefectIsolation.crops`) do not depend on the mode, only the kept rows do
/// (`DefectIsolation.keptPatches`), so the ablation extracts each crop once and keeps every mode's rows.
/// Behaviour on bad input is `PositivePatchExtractor.extract`'s (warnings for empty/resized masks and tiny regions,
/// unreadable files thrown or, with `skipBad`, skipped).
///
/// ```swift
/// let p = try AblationPositives.extract(extractor: extractor, examples: real + synthetic, padding: 0.07)
/// let cropRows = p.patches[.crop]!.rows { real.contains($0) }
/// ```
public struct AblationPositives: Sendable {
    /// Per isolation mode: the kept patches of every example (examples without a usable region are left out).
    public var patches: [DefectIsolationMode: PositivePatches]
    /// Backbone seconds (read + crop + features) per used example, for the fit time of a subset.
    public var seconds: [PositiveExample: Double]
    public var warnings: [SkippedImage]

    public static func extract(extractor: FeatureExtractor, examples: [PositiveExample], padding: Double,
                               modes: [DefectIsolationMode] = DefectIsolationMode.allCases, skipBad: Bool = false,
                               showProgress: Bool = true) throws -> AblationPositives {
        let isolations = modes.map { DefectIsolation(mode: $0, padding: padding) }
        for i in isolations { try i.validate() }
        var rows = [[Float]](repeating: [], count: modes.count)
        var counts = [Int](repeating: 0, count: modes.count)
        var used = [[(example: PositiveExample, rows: Range<Int>, regions: Int)]](repeating: [], count: modes.count)
        var warnings: [SkippedImage] = []
        var seconds: [PositiveExample: Double] = [:]
        var dimension = 0
        let progress = ProgressReporter("positives", total: examples.count, enabled: showProgress)
        for example in examples {
            defer { progress.advance() }
            let start = Date()
            let image: Image, mask: Image
            do {
                image = try ImageFile.read(example.image)
                mask = try ImageFile.read(example.mask)
            } catch {
                guard skipBad else { throw error }
                warnings.append(SkippedImage(file: example.image.path, reason: "\(error)"))
                continue
            }
            // The crops are the same for every mode (only `keptPatches` reads the mode).
            let (crops, notes) = isolations[0].crops(image: image, mask: mask, inputSize: extractor.inputSize, file: example.image.path)
            warnings += notes.map { SkippedImage(file: example.image.path, reason: $0) }
            let starts = counts
            for crop in crops {
                let set = try extractor.patchFeatures([crop.image])   // (h*w, D)
                dimension = set.dimension
                for (m, isolation) in isolations.enumerated() {
                    let keep = isolation.keptPatches(of: crop, grid: set.grid)
                    rows[m] += set.features.gatherRows(keep).scalars
                    counts[m] += keep.count
                }
            }
            for m in modes.indices where counts[m] > starts[m] {
                used[m].append((example, starts[m]..<counts[m], crops.count))
            }
            if !crops.isEmpty { seconds[example] = Date().timeIntervalSince(start) }
        }
        progress.finish()
        var patches: [DefectIsolationMode: PositivePatches] = [:]
        for (m, mode) in modes.enumerated() {
            patches[mode] = PositivePatches(features: Tensor(shape: [counts[m], dimension], scalars: rows[m]),
                                            examples: used[m], warnings: warnings)
        }
        return AblationPositives(patches: patches, seconds: seconds, warnings: warnings)
    }
}
