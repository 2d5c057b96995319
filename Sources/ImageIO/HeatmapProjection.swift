import TensorCore

/// Projection of an anomaly map back onto the camera image it was computed from.
///
/// Notation: the model saw `region` of the original image (in original pixel coordinates, edges not
/// centres), resampled to the map's `mapW` x `mapH` grid. Original pixel (x, y) has its centre at
/// (x + 0.5, y + 0.5); in map coordinates that is
/// `u = (x + 0.5 - region.x) * mapW / region.width - 0.5` (and `v` likewise), PyTorch's
/// `align_corners=False` convention, sampled bilinearly with `u`, `v` clamped to the map's edge.
extension Heatmap {
    /// (height, width) map on the original image's pixel grid: `map` (H,W) or (1,H,W) bilinearly sampled
    /// at each original pixel centre, NaN where the centre lies outside `region` (`x <= centre < x + width`),
    /// i.e. where the model saw nothing; overlays draw NaN as transparent.
    /// A map of another shape, an empty map, or an empty or non-finite region gives all NaN.
    ///
    /// Example: an 800x600 photo through torchvision `Resize(256)` + `CenterCrop(224)`: the resize gives
    /// 341x256 (scale 800/341 across, 600/256 down) and the crop starts at (58, 16) of that, so the model
    /// saw x from 58 * 800/341 = 136.07 for 224 * 800/341 = 525.51 pixels and y from 16 * 600/256 = 37.5
    /// for 224 * 600/256 = 525 pixels. `inputRegion` computes exactly this:
    ///
    /// ```swift
    /// let region = Heatmap.inputRegion(width: 800, height: 600, shorterSide: 256, cropWidth: 224, cropHeight: 224)
    /// let full = Heatmap.project(map, covering: region, ontoWidth: 800, height: 600)   // map (224,224) -> (600,800)
    /// let overlay = try Heatmap.overlay(full, on: photo, scale: scale)
    /// ```
    public static func project(_ map: Tensor, covering region: (x: Double, y: Double, width: Double, height: Double),
                               ontoWidth width: Int, height: Int) -> Tensor {
        let ow = max(width, 0), oh = max(height, 0)
        var out = [Float](repeating: .nan, count: ow * oh)
        guard let (mh, mw) = try? Image.planeSize(map, what: "heatmap"), mh > 0, mw > 0,
              region.x.isFinite, region.y.isFinite, region.width.isFinite, region.height.isFinite,
              region.width > 0, region.height > 0 else {
            return Tensor(shape: [oh, ow], scalars: out)
        }
        // Per axis: for each output index, the two map taps and the weight of the second (nil = outside).
        func taps(count: Int, origin: Double, extent: Double, mapSize: Int) -> [(Int, Int, Float)?] {
            (0..<count).map { i in
                let centre = Double(i) + 0.5
                guard centre >= origin, centre < origin + extent else { return nil }
                let u = min(max((centre - origin) * Double(mapSize) / extent - 0.5, 0), Double(mapSize - 1))
                let i0 = Int(u.rounded(.down))
                let i1 = min(i0 + 1, mapSize - 1)
                return (i0, i1, Float(u - Double(i0)))
            }
        }
        let xs = taps(count: ow, origin: region.x, extent: region.width, mapSize: mw)
        let ys = taps(count: oh, origin: region.y, extent: region.height, mapSize: mh)
        let m = map.scalars
        // A zero weight ignores its tap, so a NaN beside an exactly sampled value does not spread.
        func lerp(_ a: Float, _ b: Float, _ f: Float) -> Float { f == 0 ? a : a * (1 - f) + b * f }
        for (oy, ty) in ys.enumerated() {
            guard let (y0, y1, fy) = ty else { continue }
            for (ox, tx) in xs.enumerated() {
                guard let (x0, x1, fx) = tx else { continue }
                let top = lerp(m[y0 * mw + x0], m[y0 * mw + x1], fx)
                let bottom = fy == 0 ? top : lerp(m[y1 * mw + x0], m[y1 * mw + x1], fx)
                out[oy * ow + ox] = lerp(top, bottom, fy)
            }
        }
        return Tensor(shape: [oh, ow], scalars: out)
    }

    /// The region of a `width` x `height` original that torchvision `Resize(shorterSide)` +
    /// `CenterCrop((cropHeight, cropWidth))` feeds the model, in original pixel coordinates (for `project`).
    /// Uses the same sizes and crop origin as `Image.resized(shorterSide:)` and `Image.centerCropped`.
    ///
    /// ```swift
    /// Heatmap.inputRegion(width: 800, height: 600, shorterSide: 256, cropWidth: 224, cropHeight: 224)
    /// // (x: 136.07, y: 37.5, width: 525.51, height: 525.0)
    /// ```
    public static func inputRegion(width: Int, height: Int, shorterSide: Int, cropWidth: Int,
                                   cropHeight: Int) -> (x: Double, y: Double, width: Double, height: Double) {
        let resized = Image.resizedSize(width: width, height: height, shorterSide: shorterSide)
        let origin = Image.centerCropOrigin(width: resized.width, height: resized.height,
                                            cropWidth: cropWidth, cropHeight: cropHeight)
        let sx = resized.width > 0 ? Double(width) / Double(resized.width) : 0
        let sy = resized.height > 0 ? Double(height) / Double(resized.height) : 0
        return (Double(origin.x) * sx, Double(origin.y) * sy, Double(cropWidth) * sx, Double(cropHeight) * sy)
    }
}
