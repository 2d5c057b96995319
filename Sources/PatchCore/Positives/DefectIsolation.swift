import Defects
import Foundation
import ImageIO
import PatchFeatures

/// Which patches of a defect crop go into the positive bank.
public enum DefectIsolationMode: String, Sendable, Codable, CaseIterable, Equatable {
    /// Every patch of the crop around the region (the thesis: "cropped images around defects, minimising context").
    case crop
    /// Only the crop's patches whose grid cell overlaps the region's mask.
    case maskOverlap = "mask_overlap"

    public static var choices: String { allCases.map(\.rawValue).joined(separator: "|") }
}

/// At which scale the backbone sees a defect.
public enum DefectScale: String, Sendable, Codable, CaseIterable, Equatable {
    /// The thesis: the crop around the region is resized to the model input size (small defects are magnified).
    case resizedCrop = "resized_crop"
    /// The whole defect image goes through the model's input transform, as test images do (one backbone pass per
    /// image, defects at the scale they have at test time); the kept patches are those inside the region's padded
    /// box (`crop`) or over its mask (`mask_overlap`).
    case imageScale = "image_scale"

    public static var choices: String { allCases.map(\.rawValue).joined(separator: "|") }
}

/// One isolated defect: the crop around one connected mask region, at the model input size.
public struct DefectCrop: Sendable, Equatable {
    /// The crop, RGB, resized to the model input size (`image_scale`: the whole prepared image).
    public var image: Image
    /// The region's own mask over the crop, 0/255 gray, at the model input size.
    public var mask: Image
    /// The crop box in the source image's pixels (`image_scale`: the padded region box in input pixels).
    public var box: PixelBox
    /// The region's tight box and pixel count in the source image (`image_scale`: in input pixels).
    public var region: PixelBox
    public var regionArea: Int
}

/// Defect isolation for the positive bank: for every connected region (`DefectRegionMap`, 8-connected) of a
/// defect image's mask, the region's bounding box grown by `padding` (a fraction of the image's shorter side) on
/// every side, then grown along its shorter dimension to the model input's aspect ratio (so the resize to the input
/// size does not distort the defect), clipped to the image, cropped and resized (bilinear; the mask nearest) to
/// the model input size. The same backbone, taps and normalisation then see the crop as a whole image.
///
/// Defined behaviour on bad input (reported as warnings by `crops(image:mask:inputSize:)`):
/// - a mask without foreground pixels gives no crop (Magnetic Tile has four such "defect" images);
/// - a mask whose size differs from its image is resized to the image size (nearest neighbour) first;
/// - regions with fewer than `minRegionPixels` pixels are skipped (mask specks);
/// - a region smaller than one patch is kept: the crop enlarges it, and `maskOverlap` always keeps at least the
///   patch under the region's centre, even when a downscaled crop loses the region's pixels.
///
/// ```swift
/// let isolation = DefectIsolation(mode: .crop, padding: 0.07)
/// let (crops, warnings) = isolation.crops(image: image, mask: mask, inputSize: (224, 224))
/// for c in crops { let set = try extractor.patchFeatures([c.image]); let rows = isolation.keptPatches(of: c, grid: set.grid) }
/// ```
public struct DefectIsolation: Sendable, Codable, Equatable {
    /// Default `mask_overlap`: on the Magnetic Tile subset (see `DualScoreRule.default`, `image_scale`, `log_ratio`)
    /// it gave image / pixel AUROC / AUPRO 0.881 / 0.944 / 0.885 against 0.877 / 0.919 / 0.813 for `crop`
    /// (single-bank PatchCore: 0.857 / 0.838 / 0.722), with a smaller positive bank.
    public var mode: DefectIsolationMode
    /// Magnified crops (thesis) or the image's own scale. Default `image_scale`: on the Magnetic Tile split
    /// (see `DualScoreRule.default`) the thesis' resized crops gave pixel AUROC 0.77 (below single-bank 0.84) and
    /// image AUROC 0.83 with the thesis rule, `image_scale` 0.92 and 0.84: magnified crops put the defect patches at
    /// a scale test images never show.
    public var scale: DefectScale
    /// Padding on each side of a region's box, as a fraction of the image's shorter side (0.07 = 16 px at 224).
    public var padding: Double
    /// Regions with fewer mask pixels are skipped with a warning.
    public var minRegionPixels: Int

    public init(mode: DefectIsolationMode = .maskOverlap, scale: DefectScale = .imageScale, padding: Double = 0.07,
                minRegionPixels: Int = 1) {
        self.mode = mode; self.scale = scale; self.padding = padding; self.minRegionPixels = minRegionPixels
    }

    enum CodingKeys: String, CodingKey {
        case mode, scale, padding
        case minRegionPixels = "min_region_pixels"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mode = try c.decode(DefectIsolationMode.self, forKey: .mode)
        scale = try c.decodeIfPresent(DefectScale.self, forKey: .scale) ?? .resizedCrop
        padding = try c.decode(Double.self, forKey: .padding)
        minRegionPixels = try c.decode(Int.self, forKey: .minRegionPixels)
    }

    public func validate() throws {
        guard padding >= 0, padding <= 1 else {
            throw PatchCoreError.invalidConfiguration("defect crop padding must be in [0, 1] (fraction of the image's shorter side), got \(padding)")
        }
        guard minRegionPixels >= 1 else {
            throw PatchCoreError.invalidConfiguration("minimum defect region size must be >= 1 pixel, got \(minRegionPixels)")
        }
    }

    /// The crop box of a region: padded, grown to the aspect ratio `aspect` (width / height), clipped to the image.
    public func cropBox(for region: PixelBox, imageWidth w: Int, imageHeight h: Int, aspect: Double) -> PixelBox {
        let pad = Int((padding * Double(min(w, h))).rounded())
        var box = region.padded(by: pad, width: w, height: h)
        // Grow the short dimension about the centre to reach the aspect ratio, as far as the image allows.
        let targetWidth = Int((Double(box.height) * aspect).rounded())
        let targetHeight = Int((Double(box.width) / aspect).rounded())
        if targetWidth > box.width {
            box = grown(box, along: true, to: min(targetWidth, w), limit: w)
        } else if targetHeight > box.height {
            box = grown(box, along: false, to: min(targetHeight, h), limit: h)
        }
        return box
    }

    /// `box` widened (horizontal) or heightened to `size`, centred, shifted to stay inside [0, limit).
    private func grown(_ box: PixelBox, along horizontal: Bool, to size: Int, limit: Int) -> PixelBox {
        let (lo, hi) = horizontal ? (box.x0, box.x1) : (box.y0, box.y1)
        let extra = size - (hi - lo)
        var newLo = lo - extra / 2
        newLo = max(0, min(newLo, limit - size))
        var out = box
        if horizontal { out.x0 = newLo; out.x1 = newLo + size } else { out.y0 = newLo; out.y1 = newLo + size }
        return out
    }

    /// A defect image's mask, gray, at the image's size: a mask of another size is resized (nearest neighbour) to it,
    /// and the warning says so naming `file`. The one rule of every reader of defect masks.
    static func grayMask(_ mask: Image, fittedTo image: Image, file: String) -> (mask: Image, warning: String?) {
        let gray = mask.channels == 1 ? mask : mask.toGray()
        guard gray.width != image.width || gray.height != image.height else { return (gray, nil) }
        return (gray.resizedNearest(width: image.width, height: image.height),
                "\(file): mask is \(gray.width)x\(gray.height), image \(image.width)x\(image.height); mask resized (nearest)")
    }

    /// The crops of one defect image, one per connected mask region, and warnings for what was skipped or fixed.
    /// - Parameters:
    ///   - file: the image's path, for warnings.
    ///   - inputSize: the model input size (width, height) the crops are resized to.
    public func crops(image: Image, mask rawMask: Image, inputSize: (width: Int, height: Int),
                      file: String = "image") -> (crops: [DefectCrop], warnings: [String]) {
        let (mask, resized) = Self.grayMask(rawMask, fittedTo: image, file: file)
        var warnings = resized.map { [$0] } ?? []
        let regions = DefectRegionMap(mask: mask)
        if regions.isEmpty {
            warnings.append("\(file): empty mask (no defect pixel); skipped")
            return ([], warnings)
        }
        let rgb = image.channels == 3 ? image : image.toRGB()
        let aspect = Double(inputSize.width) / Double(inputSize.height)
        var crops: [DefectCrop] = []
        for region in regions.regions {
            guard region.area >= minRegionPixels else {
                warnings.append("\(file): defect region at \(region.box.x0),\(region.box.y0) has \(region.area) pixel(s) < \(minRegionPixels); skipped")
                continue
            }
            let box = cropBox(for: region.box, imageWidth: image.width, imageHeight: image.height, aspect: aspect)
            let crop = rgb.cropped(x: box.x0, y: box.y0, width: box.width, height: box.height)
                .resized(width: inputSize.width, height: inputSize.height)
            let regionMask = regions.mask(of: region).cropped(x: box.x0, y: box.y0, width: box.width, height: box.height)
                .resizedNearest(width: inputSize.width, height: inputSize.height)
            crops.append(DefectCrop(image: crop, mask: regionMask, box: box, region: region.box, regionArea: region.area))
        }
        return (crops, warnings)
    }

    /// `image_scale`: the regions of a defect image seen at the model input. Regions are found on the source-size
    /// `mask` (so a region smaller than one input pixel is not lost), their boxes mapped through `transform` into
    /// input pixels; `input` is the prepared image (`FeatureExtractor.prepare`) and `prepareMask` brings a mask to
    /// the input geometry (`FeatureExtractor.prepareMask`). Each `DefectCrop` holds the whole input, the region's
    /// mask at the input size (possibly empty for a tiny region: `keptPatches` then keeps the patch under its
    /// centre) and its padded box in input pixels. A region the transform crops away is skipped with a warning.
    public func imageScaleRegions(input: Image, mask: Image, transform: InputTransform, prepareMask: (Image) throws -> Image,
                                  file: String = "image") throws -> (crops: [DefectCrop], warnings: [String]) {
        let regions = DefectRegionMap(mask: mask)
        if regions.isEmpty { return ([], ["\(file): empty mask (no defect pixel); skipped"]) }
        var warnings: [String] = []
        var crops: [DefectCrop] = []
        let pad = Int((padding * Double(min(input.width, input.height))).rounded())
        for region in regions.regions {
            guard region.area >= minRegionPixels else {
                warnings.append("\(file): defect region at \(region.box.x0),\(region.box.y0) has \(region.area) pixel(s) < \(minRegionPixels); skipped")
                continue
            }
            guard let box = transform.inputBox(of: region.box, imageWidth: mask.width, imageHeight: mask.height) else {
                warnings.append("\(file): defect region at \(region.box.x0),\(region.box.y0) lies outside the model input (\(transform)); skipped")
                continue
            }
            crops.append(DefectCrop(image: input, mask: try prepareMask(regions.mask(of: region)),
                                    box: box.padded(by: pad, width: input.width, height: input.height),
                                    region: box, regionArea: region.area))
        }
        return (crops, warnings)
    }

    /// Patch rows (y * width + x) of a crop's feature grid that go into the positive bank: all of them for `crop`,
    /// the cells overlapping the crop's mask for `maskOverlap` (at least the cell under the region's centre).
    public func keptPatches(of crop: DefectCrop, grid: PatchGrid) -> [Int] {
        let all = Array(0..<(grid.height * grid.width))
        let w = crop.mask.width, h = crop.mask.height
        if mode == .crop {
            guard scale == .imageScale else { return all }
            // Cells that intersect the padded box (input pixels).
            return all.filter { i in
                let gy = i / grid.width, gx = i % grid.width
                let y0 = gy * h / grid.height, y1 = max(y0 + 1, (gy + 1) * h / grid.height)
                let x0 = gx * w / grid.width, x1 = max(x0 + 1, (gx + 1) * w / grid.width)
                return x0 < crop.box.x1 && crop.box.x0 < x1 && y0 < crop.box.y1 && crop.box.y0 < y1
            }
        }
        var kept: [Int] = []
        for gy in 0..<grid.height {
            let y0 = gy * h / grid.height, y1 = max(y0 + 1, (gy + 1) * h / grid.height)
            for gx in 0..<grid.width {
                let x0 = gx * w / grid.width, x1 = max(x0 + 1, (gx + 1) * w / grid.width)
                var hit = false
                for y in y0..<min(y1, h) where !hit {
                    for x in x0..<min(x1, w) where crop.mask.pixels[y * w + x] > 127 { hit = true; break }
                }
                if hit { kept.append(gy * grid.width + gx) }
            }
        }
        if kept.isEmpty {
            // The region's centre, mapped from the source image into the crop (image scale: the input) and onto the grid.
            let frame = scale == .imageScale ? PixelBox(x0: 0, y0: 0, x1: w, y1: h) : crop.box
            let cx = (Double(crop.region.x0 + crop.region.x1) / 2 - Double(frame.x0)) / Double(max(frame.width, 1))
            let cy = (Double(crop.region.y0 + crop.region.y1) / 2 - Double(frame.y0)) / Double(max(frame.height, 1))
            let gx = min(grid.width - 1, max(0, Int(cx * Double(grid.width))))
            let gy = min(grid.height - 1, max(0, Int(cy * Double(grid.height))))
            kept = [gy * grid.width + gx]
        }
        return kept
    }
}

extension InputTransform {
    /// A source-image box in model-input pixels (`resize`: scaled; `resize + centre crop`: scaled, shifted by the
    /// crop origin and clipped), at least one pixel wide and high; nil when the crop removes it entirely.
    ///
    /// ```swift
    /// InputTransform.resize(width: 100, height: 100).inputBox(of: PixelBox(x0: 10, y0: 10, x1: 11, y1: 11),
    ///                                                         imageWidth: 1000, imageHeight: 1000)   // (1,1)-(2,2)
    /// ```
    public func inputBox(of box: PixelBox, imageWidth w: Int, imageHeight h: Int) -> PixelBox? {
        guard w > 0, h > 0 else { return nil }
        let (scaledW, scaledH, originX, originY, outW, outH): (Int, Int, Int, Int, Int, Int)
        switch self {
        case let .resize(tw, th):
            (scaledW, scaledH, originX, originY, outW, outH) = (tw, th, 0, 0, tw, th)
        case let .resizeCrop(resize, crop):
            let size = Image.resizedSize(width: w, height: h, shorterSide: resize)
            let origin = Image.centerCropOrigin(width: size.width, height: size.height, cropWidth: crop, cropHeight: crop)
            (scaledW, scaledH, originX, originY, outW, outH) = (size.width, size.height, origin.x, origin.y, crop, crop)
        case .shortSide, .native:
            let size = inputSize(forWidth: w, height: h)
            (scaledW, scaledH, originX, originY, outW, outH) = (size.width, size.height, 0, 0, size.width, size.height)
        }
        let sx = Double(scaledW) / Double(w), sy = Double(scaledH) / Double(h)
        var x0 = Int((Double(box.x0) * sx).rounded(.down)) - originX, x1 = Int((Double(box.x1) * sx).rounded(.up)) - originX
        var y0 = Int((Double(box.y0) * sy).rounded(.down)) - originY, y1 = Int((Double(box.y1) * sy).rounded(.up)) - originY
        x0 = max(0, x0); y0 = max(0, y0); x1 = min(outW, x1); y1 = min(outH, y1)
        guard x1 > x0, y1 > y0 else { return nil }
        return PixelBox(x0: x0, y0: y0, x1: x1, y1: y1)
    }
}
