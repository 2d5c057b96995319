import TensorCore

/// Overlay with a `HeatmapScale`: transparent where the map is low, solid decision red at the threshold.
extension Heatmap {
    /// RGB image of `map` blended over `image` pixel by pixel:
    /// `round((1 - a) * image + a * colour)` with `a = scale.colour(of: v).a * maxAlpha`.
    /// Where the map is at or below `scale.low` (or NaN) the image is returned unchanged (as RGB);
    /// at and above `scale.threshold` the pixel is `maxAlpha` of `HeatmapScale.thresholdColour`.
    /// `map` is (H,W) or (1,H,W) with the image's height and width; `maxAlpha` is clamped to [0, 1].
    ///
    /// ```swift
    /// let scale = HeatmapScale(low: 1.1, threshold: 2.9)
    /// let overlay = try Heatmap.overlay(map, on: crop, scale: scale)   // map (224,224), crop 224x224
    /// ```
    public static func overlay(_ map: Tensor, on image: Image, scale: HeatmapScale,
                               maxAlpha: Float = 0.6) throws -> Image {
        let (h, w) = try matchingPlaneSize(map, image, what: "heatmap")
        let rgb = image.toRGB()
        let peak = maxAlpha.isNaN ? 0 : min(max(maxAlpha, 0), 1)
        var out = rgb.pixels
        for i in 0..<(h * w) {
            let c = scale.colour(of: map.scalars[i])
            let a = c.a * peak
            guard a > 0 else { continue }
            func blend(_ base: UInt8, _ top: UInt8) -> UInt8 { UInt8(((1 - a) * Float(base) + a * Float(top)).rounded()) }
            out[3 * i] = blend(rgb.pixels[3 * i], c.r)
            out[3 * i + 1] = blend(rgb.pixels[3 * i + 1], c.g)
            out[3 * i + 2] = blend(rgb.pixels[3 * i + 2], c.b)
        }
        return Image(width: w, height: h, channels: 3, pixels: out)
    }

    /// The heatmap alone as an RGBA layer to put over the image (a page's opacity slider): `scale.colour(of:)`
    /// with its opacity as alpha, so low values are transparent and the predicted region `{ map >= threshold }` is
    /// exactly the pixels of opaque `HeatmapScale.thresholdColour` (the ramp ends at orange, never that red), which
    /// a viewer can outline without the map.
    ///
    /// ```swift
    /// let layer = try Heatmap.layer(map, scale: HeatmapScale(low: 1.1, threshold: 2.9))   // 4 channels
    /// ```
    public static func layer(_ map: Tensor, scale: HeatmapScale) throws -> Image {
        let (h, w) = try Image.planeSize(map, what: "heatmap")
        var out = [UInt8](repeating: 0, count: h * w * 4)
        for i in 0..<(h * w) {
            let c = scale.colour(of: map.scalars[i])
            guard c.a > 0 else { continue }
            out[4 * i] = c.r; out[4 * i + 1] = c.g; out[4 * i + 2] = c.b
            out[4 * i + 3] = UInt8((min(max(c.a, 0), 1) * 255).rounded())
        }
        return Image(width: w, height: h, channels: 4, pixels: out)
    }

    /// (H, W) of a map that must cover `image` pixel for pixel; throws naming `what` otherwise.
    static func matchingPlaneSize(_ map: Tensor, _ image: Image, what: String) throws -> (Int, Int) {
        let (h, w) = try Image.planeSize(map, what: what)
        guard h == image.height, w == image.width else {
            throw ImageError.shapeMismatch(what: what, expected: "(\(image.height),\(image.width)) like the image",
                                           actual: "\(map.shape)")
        }
        return (h, w)
    }
}
