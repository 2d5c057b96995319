import ImageIO
import TensorCore

/// A half-open pixel rectangle `[x0, x1) x [y0, y1)`.
public struct PixelBox: Sendable, Equatable, Hashable, Codable {
    public var x0: Int, y0: Int, x1: Int, y1: Int

    public init(x0: Int, y0: Int, x1: Int, y1: Int) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }

    public var width: Int { x1 - x0 }
    public var height: Int { y1 - y0 }
    public var area: Int { max(0, width) * max(0, height) }

    /// The box grown by `padding` pixels on every side, clipped to a `width` x `height` image.
    ///
    /// ```swift
    /// PixelBox(x0: 2, y0: 2, x1: 4, y1: 4).padded(by: 8, width: 10, height: 10)  // (0,0)-(10,10)
    /// ```
    public func padded(by padding: Int, width: Int, height: Int) -> PixelBox {
        PixelBox(x0: max(0, x0 - padding), y0: max(0, y0 - padding),
                 x1: min(width, x1 + padding), y1: min(height, y1 + padding))
    }
}

/// One 8-connected foreground component of a defect mask.
public struct DefectRegion: Sendable, Equatable {
    /// 1-based label in `DefectRegionMap.labels`.
    public let label: Int
    /// Tight bounding box of the component.
    public let box: PixelBox
    /// Number of foreground pixels.
    public let area: Int
}

/// Connected components of a binary mask: a label per pixel (0 = background) and one record per region.
public struct DefectRegionMap: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major labels, 0 for background, `region.label` for the region's pixels.
    public let labels: [Int32]
    /// Regions in raster order of their first pixel.
    public let regions: [DefectRegion]

    /// Finds the 8-connected regions of `mask` (any channel count; the first channel is read),
    /// where a pixel is foreground when its value is above `threshold` (masks are 0/255 PNGs).
    ///
    /// ```swift
    /// let map = DefectRegionMap(mask: try ImageFile.read(maskURL))
    /// for region in map.regions { print(region.box, region.area) }
    /// ```
    public init(mask: Image, threshold: UInt8 = 127) {
        let w = mask.width, h = mask.height, c = mask.channels
        let foreground = (0..<(w * h)).map { mask.pixels[$0 * c] > threshold ? UInt8(1) : 0 }
        let (labels, count) = connectedComponents(mask: foreground, width: w, height: h, connectivity: .eight)
        // One raster pass for each region's box and area.
        var boxes = [PixelBox](repeating: PixelBox(x0: w, y0: h, x1: 0, y1: 0), count: count)
        var areas = [Int](repeating: 0, count: count)
        for y in 0..<h {
            for x in 0..<w where labels[y * w + x] != 0 {
                let r = Int(labels[y * w + x]) - 1
                areas[r] += 1
                boxes[r].x0 = min(boxes[r].x0, x); boxes[r].x1 = max(boxes[r].x1, x + 1)
                boxes[r].y0 = min(boxes[r].y0, y); boxes[r].y1 = max(boxes[r].y1, y + 1)
            }
        }
        self.width = w
        self.height = h
        self.labels = labels
        self.regions = (0..<count).map { DefectRegion(label: $0 + 1, box: boxes[$0], area: areas[$0]) }
    }

    /// True when the mask has no foreground pixel (Magnetic Tile has such "defect" images).
    public var isEmpty: Bool { regions.isEmpty }

    /// A 0/255 single-channel mask holding only `region`'s pixels.
    public func mask(of region: DefectRegion) -> Image {
        var pixels = [UInt8](repeating: 0, count: width * height)
        let l = Int32(region.label)
        for y in region.box.y0..<region.box.y1 {
            for x in region.box.x0..<region.box.x1 where labels[y * width + x] == l { pixels[y * width + x] = 255 }
        }
        return Image(width: width, height: height, channels: 1, pixels: pixels)
    }
}
