import TensorCore

/// Region contours for anomalib-style panels: the predicted region (map >= level) and the ground truth.
///
/// A contour pixel is a pixel inside the region with a 4-neighbour outside it; pixels beyond the image
/// edge count as outside, so a region touching the edge still gets a closed line. `thickness: 2` adds
/// the outer ring (outside pixels with a 4-neighbour inside), a 2-px line straddling the region's edge.
extension Heatmap {
    /// RGB copy of `image` with the contour of `{ map >= level }` drawn in `colour` (NaN is outside).
    /// `map` is (H,W) or (1,H,W) with the image's size; `thickness` is 1 or 2 (clamped).
    ///
    /// ```swift
    /// let predicted = try Heatmap.outline(map, on: crop, level: scale.threshold)
    /// ```
    public static func outline(_ map: Tensor, on image: Image, level: Float,
                               colour: (r: UInt8, g: UInt8, b: UInt8) = HeatmapScale.thresholdColour,
                               thickness: Int = 1) throws -> Image {
        let (h, w) = try matchingPlaneSize(map, image, what: "heatmap")
        let inside = map.scalars.prefix(h * w).map { $0 >= level }   // NaN >= level is false
        return drawContour(of: inside, on: image.toRGB(), colour: colour, thickness: thickness)
    }

    /// Default colour of ground-truth contours (green, apart from the decision red).
    public static let groundTruthColour: (r: UInt8, g: UInt8, b: UInt8) = (0, 220, 0)

    /// RGB copy of `image` with the contour of a ground-truth mask (gray level > 127 = defect, as
    /// `Image.maskTensor`) drawn in `colour`. The mask must have the image's size (resize masks with
    /// `resizedNearest`).
    ///
    /// ```swift
    /// let gt = try ImageFile.read(maskURL).resized(shorterSide: 256, nearest: true).centerCropped(width: 224, height: 224)
    /// let panel = try Heatmap.maskOutline(mask: gt, on: crop)
    /// ```
    public static func maskOutline(mask: Image, on image: Image,
                                   colour: (r: UInt8, g: UInt8, b: UInt8) = Heatmap.groundTruthColour,
                                   thickness: Int = 1) throws -> Image {
        guard mask.width == image.width, mask.height == image.height else {
            throw ImageError.shapeMismatch(what: "ground-truth mask", expected: "\(image.width)x\(image.height) like the image",
                                           actual: "\(mask.width)x\(mask.height)")
        }
        let inside = mask.toGray().pixels.map { $0 > 127 }
        return drawContour(of: inside, on: image.toRGB(), colour: colour, thickness: thickness)
    }

    /// Contour mask of a region: `inside` (H*W, row-major) -> true on the contour pixels.
    static func contour(of inside: [Bool], width w: Int, height h: Int, thickness: Int = 1) -> [Bool] {
        precondition(inside.count == w * h, "contour: \(inside.count) flags for \(w)x\(h)")
        // Off-image neighbours read as outside.
        func at(_ x: Int, _ y: Int) -> Bool { x >= 0 && x < w && y >= 0 && y < h && inside[y * w + x] }
        var edge = [Bool](repeating: false, count: w * h)
        let outer = thickness >= 2
        for y in 0..<h {
            for x in 0..<w {
                let here = inside[y * w + x]
                guard here || outer else { continue }
                let n = (at(x - 1, y), at(x + 1, y), at(x, y - 1), at(x, y + 1))
                if here {
                    edge[y * w + x] = !(n.0 && n.1 && n.2 && n.3)
                } else {
                    edge[y * w + x] = n.0 || n.1 || n.2 || n.3
                }
            }
        }
        return edge
    }

    /// `rgb` with the contour of `inside` painted in `colour`.
    static func drawContour(of inside: [Bool], on rgb: Image, colour: (r: UInt8, g: UInt8, b: UInt8),
                            thickness: Int) -> Image {
        let edge = contour(of: inside, width: rgb.width, height: rgb.height, thickness: thickness)
        var out = rgb.pixels
        for i in 0..<edge.count where edge[i] {
            out[3 * i] = colour.r; out[3 * i + 1] = colour.g; out[3 * i + 2] = colour.b
        }
        return Image(width: rgb.width, height: rgb.height, channels: 3, pixels: out)
    }
}
