import Defects
import Foundation
import ImageIO
import TensorCore

/// How the ablation isolates defect patches: `crop` and `mask_overlap` are `fit --dual`'s modes at the thesis'
/// `resized_crop` scale (`DefectScale`), and `full_image`,
/// which keeps the patches over the mask of the WHOLE defect image prepared like a test image (resize to the input
/// size, no crop): the defect is then seen at the scale of the test images, where a crop around a 10-pixel region
/// blows it up 4-5 times before the backbone sees it.
public enum AblationIsolation: String, Sendable, Codable, CaseIterable, Hashable {
    case crop
    case maskOverlap = "mask_overlap"
    case fullImage = "full_image"

    /// The `fit --dual` isolation closest to this one (`full_image` ~ `mask_overlap` at `image_scale`, which keeps
    /// the mask cells per region instead of for the whole mask at once).
    public var dualIsolation: (mode: DefectIsolationMode, scale: DefectScale) {
        switch self {
        case .crop: return (.crop, .resizedCrop)
        case .maskOverlap: return (.maskOverlap, .resizedCrop)
        case .fullImage: return (.maskOverlap, .imageScale)
        }
    }

    /// The `fit --dual` mode run at `resized_crop` here, nil for `full_image`.
    public var dualMode: DefectIsolationMode? { self == .fullImage ? nil : DefectIsolationMode(rawValue: rawValue) }

    public static var choices: String { allCases.map(\.rawValue).joined(separator: "|") }
}

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
    /// Per isolation: the kept patches of every example (examples without a usable region are left out).
    public var patches: [AblationIsolation: PositivePatches]
    /// Backbone seconds (read + crop + features) per used example, for the fit time of a subset.
    public var seconds: [PositiveExample: Double]
    public var warnings: [SkippedImage]

    public static func extract(extractor: FeatureExtractor, examples: [PositiveExample], padding: Double,
                               isolations wanted: [AblationIsolation] = AblationIsolation.allCases, skipBad: Bool = false,
                               showProgress: Bool = true) throws -> AblationPositives {
        let modes = wanted.compactMap(\.dualMode)
        let fullImage = wanted.contains(.fullImage)
        let isolations = modes.map { DefectIsolation(mode: $0, scale: .resizedCrop, padding: padding) }
        let cropper = DefectIsolation(mode: .crop, scale: .resizedCrop, padding: padding)
        try cropper.validate()
        var fullRows: [Float] = [], fullCount = 0
        var fullUsed: [(example: PositiveExample, rows: Range<Int>, regions: Int)] = []
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
            let (crops, notes) = cropper.crops(image: image, mask: mask, inputSize: extractor.inputSize, file: example.image.path)
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
            if fullImage, !crops.isEmpty {
                let kept = try fullImagePatches(extractor: extractor, image: image, mask: mask)
                if kept.rows.isEmpty {
                    warnings.append(SkippedImage(file: example.image.path, reason: "full_image: the mask vanishes at the input size; skipped"))
                } else {
                    fullRows += kept.rows
                    fullUsed.append((example, fullCount..<(fullCount + kept.count), crops.count))
                    fullCount += kept.count
                }
            }
            if !crops.isEmpty { seconds[example] = Date().timeIntervalSince(start) }
        }
        progress.finish()
        var patches: [AblationIsolation: PositivePatches] = [:]
        for (m, mode) in modes.enumerated() {
            patches[AblationIsolation(rawValue: mode.rawValue)!] = PositivePatches(
                features: Tensor(shape: [counts[m], dimension], scalars: rows[m]), examples: used[m], warnings: warnings)
        }
        if fullImage {
            let d = fullCount > 0 ? fullRows.count / fullCount : dimension
            patches[.fullImage] = PositivePatches(features: Tensor(shape: [fullCount, d], scalars: fullRows),
                                                  examples: fullUsed, warnings: warnings)
        }
        return AblationPositives(patches: patches, seconds: seconds, warnings: warnings)
    }

    /// `full_image`: the defect image and its mask prepared like a test image (`prepare`, `prepareMask`), one
    /// backbone pass, and the rows of the grid cells that overlap the mask (`DefectIsolation.keptPatches`).
    static func fullImagePatches(extractor: FeatureExtractor, image: Image, mask rawMask: Image) throws -> (rows: [Float], count: Int) {
        var mask = rawMask.channels == 1 ? rawMask : rawMask.toGray()
        if mask.width != image.width || mask.height != image.height {
            mask = mask.resizedNearest(width: image.width, height: image.height)
        }
        let input = extractor.prepare(image), inputMask = extractor.prepareMask(mask)
        let regions = DefectRegionMap(mask: inputMask)
        guard let first = regions.regions.first else { return ([], 0) }
        var box = first.box
        for r in regions.regions.dropFirst() {
            box = PixelBox(x0: min(box.x0, r.box.x0), y0: min(box.y0, r.box.y0), x1: max(box.x1, r.box.x1), y1: max(box.y1, r.box.y1))
        }
        let whole = DefectCrop(image: input, mask: inputMask, box: PixelBox(x0: 0, y0: 0, x1: input.width, y1: input.height),
                               region: box, regionArea: regions.regions.reduce(0) { $0 + $1.area })
        let set = try extractor.patchFeatures([input])   // (h*w, D)
        let keep = DefectIsolation(mode: .maskOverlap, scale: .resizedCrop).keptPatches(of: whole, grid: set.grid)
        return (set.features.gatherRows(keep).scalars, keep.count)
    }
}
