import Foundation
import ImageIO
import PatchFeatures
import TensorCore

/// The normal areas of annotated defect images as more normal patches (`fit --normal-from-defects`). A defect image
/// is mostly a good part: plain PatchCore throws it away, and a part whose whole surface differs from the good
/// images a little (another batch, another tile) then scores high everywhere, far from its defect too. Each image
/// goes through the model's input transform as a test image does; every cell of the patch grid more than
/// `marginCells` cells (Chebyshev distance, on the finest tap's grid) from every cell holding a mask pixel joins the
/// normal bank's coreset input. The margin keeps out the patches whose 3 x 3 neighbourhood or receptive field sees
/// the defect (bench/RESULTS.md measures 1 to 20 cells).
///
/// Defined behaviour on bad input (warnings in `FitResult.positiveWarnings`):
/// - a mask without defect pixels: the image is not used (a "defect" image whose defect is not marked);
/// - a mask whose size differs from its image is resized to the image size (nearest neighbour) first;
/// - an unreadable image or mask fails the fit, or is skipped with `skipBad`; no usable image at all fails it.
///
/// ```swift
/// var options = FitOptions()
/// options.defectNormalAreas = DefectNormalAreas(examples: PositiveExample.trainDefects(of: dataset))
/// ```
public struct DefectNormalAreas: Sendable, Equatable {
    /// 16 cells (128 input pixels at stride 8): on the Magnetic Tile split the smallest margin measured that keeps
    /// image AUROC where the good images alone have it (0.977 at sigma 24) while pixel AUROC rises past 0.90;
    /// smaller margins raise pixel AUROC further (0.93 at 4) and cost image AUROC (0.956), bench/RESULTS.md.
    public static let defaultMarginCells = 16
    public static let marginRange = 0...64

    public var examples: [PositiveExample]
    public var marginCells: Int

    public init(examples: [PositiveExample], marginCells: Int = defaultMarginCells) {
        self.examples = examples; self.marginCells = marginCells
    }

    public func validate() throws {
        guard Self.marginRange.contains(marginCells) else {
            throw PatchCoreError.invalidConfiguration("defect margin must be within \(Self.marginRange.lowerBound)...\(Self.marginRange.upperBound) cells, got \(marginCells)")
        }
        guard !examples.isEmpty else {
            throw PatchCoreError.emptyTrainingSet("normal areas of defect images need defect images with masks (the data set's training defects), none were given")
        }
    }

    /// The cells (row-major indices of `grid`) farther than `marginCells` from every cell that holds a mask pixel
    /// (`mask` at the model input size, gray, defect > 127).
    public static func normalCells(mask: Image, grid: PatchGrid, marginCells: Int) -> [Int] {
        let (w, h, gw, gh, m) = (mask.width, mask.height, grid.width, grid.height, marginCells)
        var hit = [Bool](repeating: false, count: gh * gw)
        for y in 0..<h {
            let gy = min(gh - 1, y * gh / h)
            for x in 0..<w where mask.pixels[(y * w + x) * mask.channels] > 127 { hit[gy * gw + min(gw - 1, x * gw / w)] = true }
        }
        // The square of side 2m + 1 around each hit cell, along the rows then the columns (separable: the cost
        // grows with the cells times m, not with the mask's pixels times m squared).
        var rows = [Bool](repeating: false, count: gh * gw), near = rows
        for cy in 0..<gh {
            for cx in 0..<gw where hit[cy * gw + cx] {
                for x in max(0, cx - m)...min(gw - 1, cx + m) { rows[cy * gw + x] = true }
            }
        }
        for cy in 0..<gh {
            for cx in 0..<gw where rows[cy * gw + cx] {
                for y in max(0, cy - m)...min(gh - 1, cy + m) { near[y * gw + cx] = true }
            }
        }
        return near.indices.filter { !near[$0] }
    }

    /// Hands the normal cells' features of each usable example, one image at a time, to `consume` (so a streamed
    /// bank keeps its memory bound); returns the images used, the rows handed over and the warnings.
    func extract(extractor: FeatureExtractor, skipBad: Bool, progress: ProgressHandler?,
                 consume: (Tensor) throws -> Void) throws -> (images: Int, patches: Int, warnings: [SkippedImage]) {
        try validate()
        var patches = 0, used = 0
        var warnings: [SkippedImage] = []
        var step = StageProgress(.defectNormalAreas, total: examples.count, handler: progress)
        for (i, example) in examples.enumerated() {
            step.set(i)
            try Task.checkCancellation()
            let file = example.image.path
            guard let (image, mask) = try example.read(skipBad: skipBad, warnings: &warnings) else { continue }
            let (gray, resized) = DefectIsolation.grayMask(mask, fittedTo: image, file: example.mask.path)
            guard gray.pixels.contains(where: { $0 > 127 }) else {
                warnings.append(SkippedImage(file: file, reason: "\(example.mask.path): the mask marks no defect pixel; the image is not used as normal"))
                continue
            }
            if let resized { warnings.append(SkippedImage(file: file, reason: resized)) }
            let input = try extractor.prepare(image, file: file)
            let inputMask = try extractor.prepareMask(gray, file: example.mask.path)
            let set = try extractor.patchFeatures([input])
            try FiniteCheck.require(set.features, file: file, tensor: "patch features")
            let keep = Self.normalCells(mask: inputMask, grid: set.grid, marginCells: marginCells)
            if !keep.isEmpty { try consume(set.features.gatherRows(keep)) }
            patches += keep.count
            used += 1
        }
        step.set(examples.count)
        guard used > 0 else {
            throw PatchCoreError.emptyTrainingSet("no usable defect image for normal areas among \(examples.count) (all masks empty or unreadable)")
        }
        return (used, patches, warnings)
    }
}

/// What a model's normal bank took from defect images (`ModelInfo.defectNormalAreas`).
public struct DefectNormalAreasRecord: Sendable, Codable, Equatable {
    /// Defect images whose normal areas were used.
    public var images: Int
    /// Their patches that joined the coreset input.
    public var patches: Int
    public var marginCells: Int

    public init(images: Int, patches: Int, marginCells: Int) {
        self.images = images; self.patches = patches; self.marginCells = marginCells
    }

    enum CodingKeys: String, CodingKey {
        case images, patches
        case marginCells = "margin_cells"
    }
}
