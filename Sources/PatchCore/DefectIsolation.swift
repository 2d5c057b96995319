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

/// One isolated defect: the crop around one connected mask region, at the model input size.
public struct DefectCrop: Sendable, Equatable {
    /// The crop, RGB, resized to the model input size.
    public var image: Image
    /// The region's own mask over the crop, 0/255 gray, at the model input size.
    public var mask: Image
    /// The crop box in the source image's pixels.
    public var box: PixelBox
    /// The region's tight box and pixel count in the source image.
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
    public var mode: DefectIsolationMode
    /// Padding on each side of a region's box, as a fraction of the image's shorter side (0.07 = 16 px at 224).
    public var padding: Double
    /// Regions with fewer mask pixels are skipped with a warning.
    public var minRegionPixels: Int

    public init(mode: DefectIsolationMode = .crop, padding: Double = 0.07, minRegionPixels: Int = 1) {
        self.mode = mode; self.padding = padding; self.minRegionPixels = minRegionPixels
    }

    enum CodingKeys: String, CodingKey {
        case mode, padding
        case minRegionPixels = "min_region_pixels"
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

    /// The crops of one defect image, one per connected mask region, and warnings for what was skipped or fixed.
    /// - Parameters:
    ///   - file: the image's path, for warnings.
    ///   - inputSize: the model input size (width, height) the crops are resized to.
    public func crops(image: Image, mask rawMask: Image, inputSize: (width: Int, height: Int),
                      file: String = "image") -> (crops: [DefectCrop], warnings: [String]) {
        var warnings: [String] = []
        var mask = rawMask.channels == 1 ? rawMask : rawMask.toGray()
        if mask.width != image.width || mask.height != image.height {
            warnings.append("\(file): mask is \(mask.width)x\(mask.height), image \(image.width)x\(image.height); mask resized (nearest)")
            mask = mask.resizedNearest(width: image.width, height: image.height)
        }
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

    /// Patch rows (y * width + x) of a crop's feature grid that go into the positive bank: all of them for `crop`,
    /// the cells overlapping the crop's mask for `maskOverlap` (at least the cell under the region's centre).
    public func keptPatches(of crop: DefectCrop, grid: PatchGrid) -> [Int] {
        let all = Array(0..<(grid.height * grid.width))
        guard mode == .maskOverlap else { return all }
        let w = crop.mask.width, h = crop.mask.height
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
            // The region's centre, mapped from the source image into the crop and onto the grid.
            let cx = (Double(crop.region.x0 + crop.region.x1) / 2 - Double(crop.box.x0)) / Double(max(crop.box.width, 1))
            let cy = (Double(crop.region.y0 + crop.region.y1) / 2 - Double(crop.box.y0)) / Double(max(crop.box.height, 1))
            let gx = min(grid.width - 1, max(0, Int(cx * Double(grid.width))))
            let gy = min(grid.height - 1, max(0, Int(cy * Double(grid.height))))
            kept = [gy * grid.width + gx]
        }
        return kept
    }
}
