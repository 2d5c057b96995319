import ImageIO

/// A pixel rectangle `[x0, x1) x [y0, y1)` of an image (PIL's crop box `(x1, y1, x2, y2)`).
public struct CropBox: Sendable, Equatable, Codable, CustomStringConvertible {
    public var x0: Int, y0: Int, x1: Int, y1: Int
    public init(x0: Int, y0: Int, x1: Int, y1: Int) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
    public var width: Int { x1 - x0 }
    public var height: Int { y1 - y0 }
    public var description: String { "(\(x0), \(y0), \(x1), \(y1))" }
}

/// Port of diffusers `VaeImageProcessor.get_crop_region(mask_image, width, height, pad)` (image_processor.py):
/// the smallest box holding every non-zero mask pixel, grown by `pad` on each side (clamped to the image), then
/// widened or heightened around its centre to the working aspect ratio `width / height`, shifted back inside the
/// image where it overhangs.
///
/// Returns nil for an all-zero mask (diffusers would return a degenerate box there).
///
/// ```swift
/// let box = cropRegion(ofMask: mask, workingWidth: 1024, workingHeight: 1024, pad: 2)
/// ```
public func cropRegion(ofMask mask: Image, workingWidth width: Int, workingHeight height: Int, pad: Int) -> CropBox? {
    let gray = mask.channels == 1 ? mask : mask.toGray()
    let w = gray.width, h = gray.height
    // 1. the bounding box of the non-zero pixels
    var left = w, right = -1, top = h, bottom = -1
    gray.pixels.withUnsafeBufferPointer { p in
        for y in 0..<h {
            for x in 0..<w where p[y * w + x] != 0 {
                left = min(left, x); right = max(right, x); top = min(top, y); bottom = max(bottom, y)
            }
        }
    }
    guard right >= 0 else { return nil }
    // 2. padding, clamped to the image (diffusers counts empty columns from each side: crop_right = w - 1 - right)
    var x1 = max(left - pad, 0), y1 = max(top - pad, 0)
    var x2 = min(right + 1 + pad, w), y2 = min(bottom + 1 + pad, h)
    // 3. expand to the working aspect ratio
    let ratioCrop = Double(x2 - x1) / Double(y2 - y1)
    let ratioProcessing = Double(width) / Double(height)
    if ratioCrop > ratioProcessing {
        let desiredHeight = Double(x2 - x1) / ratioProcessing
        let diff = Int(desiredHeight - Double(y2 - y1))  // Python int(): truncation toward zero
        y1 -= floorDiv(diff, 2)
        y2 += diff - floorDiv(diff, 2)
        if y2 >= h { let over = y2 - h; y2 -= over; y1 -= over }
        if y1 < 0 { y2 -= y1; y1 = 0 }
        if y2 >= h { y2 = h }
    } else {
        let desiredWidth = Double(y2 - y1) * ratioProcessing
        let diff = Int(desiredWidth - Double(x2 - x1))
        x1 -= floorDiv(diff, 2)
        x2 += diff - floorDiv(diff, 2)
        if x2 >= w { let over = x2 - w; x2 -= over; x1 -= over }
        if x1 < 0 { x2 -= x1; x1 = 0 }
        if x2 >= w { x2 = w }
    }
    return CropBox(x0: x1, y0: y1, x1: x2, y1: y2)
}

/// Python's `a // b` (floor division) for b > 0.
@inline(__always) func floorDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
