/// torchvision `Resize(int)` / `CenterCrop` geometry on top of the PIL-exact resamplers.
extension Image {
    /// Output size of torchvision `Resize(S)` (an int): the shorter side becomes `S`, the longer
    /// `int(S * long / short)` (port of torchvision `_compute_resized_output_size`).
    public static func resizedSize(width: Int, height: Int, shorterSide s: Int) -> (width: Int, height: Int) {
        guard width > 0, height > 0 else { return (width, height) }
        let short = min(width, height), long = max(width, height)
        return width <= height ? (s, longSide(s, long, short)) : (longSide(s, long, short), s)
    }

    /// Python `int(S * long / short)` (exact integer product, then one rounding), saturating at `Int.max` / `Int.min`
    /// instead of trapping when a hostile size makes it overflow; the checked transforms then refuse the result.
    static func longSide(_ s: Int, _ long: Int, _ short: Int) -> Int {
        let (product, overflow) = s.multipliedReportingOverflow(by: long)
        let value = (overflow ? Double(s) * Double(long) : Double(product)) / Double(short)
        guard value.isFinite else { return value > 0 ? Int.max : Int.min }
        if value >= 9.2e18 { return Int.max }
        if value <= -9.2e18 { return Int.min }
        return Int(value)
    }

    /// torchvision `Resize(S)` on a PIL image: shorter side to `S`, bilinear (or nearest for masks).
    ///
    /// ```swift
    /// let x = image.resized(shorterSide: 256).centerCropped(width: 224, height: 224)
    /// ```
    public func resized(shorterSide s: Int, nearest: Bool = false) -> Image {
        let size = Image.resizedSize(width: width, height: height, shorterSide: s)
        return nearest ? resizedNearest(width: size.width, height: size.height)
                       : resized(width: size.width, height: size.height)
    }

    /// Crop of `width` x `height` at (`x`, `y`); pixels outside the image are 0.
    public func cropped(x: Int, y: Int, width cw: Int, height chh: Int) -> Image {
        let c = channels
        var out = [UInt8](repeating: 0, count: max(cw, 0) * max(chh, 0) * c)
        for oy in 0..<max(chh, 0) {
            let sy = y + oy
            guard sy >= 0 && sy < height else { continue }
            for ox in 0..<max(cw, 0) {
                let sx = x + ox
                guard sx >= 0 && sx < width else { continue }
                for ch in 0..<c { out[(oy * cw + ox) * c + ch] = pixels[(sy * width + sx) * c + ch] }
            }
        }
        return Image(width: max(cw, 0), height: max(chh, 0), channels: c, pixels: out)
    }

    /// Top-left corner of torchvision `CenterCrop`: `int(round((size - crop) / 2))` with Python's
    /// round-half-to-even; when the crop is larger, torchvision first pads with zeros
    /// (left/top `(crop - size) // 2`), which is the same as a negative offset here.
    public static func centerCropOrigin(width: Int, height: Int, cropWidth: Int, cropHeight: Int) -> (x: Int, y: Int) {
        func origin(_ size: Int, _ crop: Int) -> Int {
            if crop > size { return -((crop - size) / 2) }
            return Int((Double(size - crop) / 2.0).rounded(.toNearestOrEven))
        }
        return (origin(width, cropWidth), origin(height, cropHeight))
    }

    /// torchvision `CenterCrop((height, width))`, zero-padded when the crop is larger than the image.
    public func centerCropped(width cw: Int, height chh: Int) -> Image {
        let o = Image.centerCropOrigin(width: width, height: height, cropWidth: cw, cropHeight: chh)
        return cropped(x: o.x, y: o.y, width: cw, height: chh)
    }
}
