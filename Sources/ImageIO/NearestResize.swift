/// Nearest-neighbour resize, a port of Pillow's `Image.resize(size, NEAREST)` (the affine
/// `ImagingScaleAffine` path), which torchvision `Resize(..., NEAREST)` runs on PIL masks.
///
/// Source index of output `x` is `floor(a0 * 0.5 + x * a0)` with `a0 = in/out`, accumulated in
/// double precision exactly as Pillow does (`xo += a[0]`).
extension Image {
    /// Resized copy with nearest-neighbour sampling (for masks).
    ///
    /// ```swift
    /// let mask224 = mask.resizedNearest(width: 224, height: 224)
    /// ```
    public func resizedNearest(width newWidth: Int, height newHeight: Int) -> Image {
        if newWidth == width && newHeight == height { return self }
        let w = max(newWidth, 0), h = max(newHeight, 0)
        let xs = Image.nearestIndices(inSize: width, outSize: w)
        let ys = Image.nearestIndices(inSize: height, outSize: h)
        let c = channels
        var out = [UInt8](repeating: 0, count: w * h * c)
        for y in 0..<h {
            guard let sy = ys[y] else { continue }
            for x in 0..<w {
                guard let sx = xs[x] else { continue }
                for ch in 0..<c { out[(y * w + x) * c + ch] = pixels[(sy * width + sx) * c + ch] }
            }
        }
        return Image(width: w, height: h, channels: c, pixels: out)
    }

    /// Pillow's pre-tabulated source indices (nil where outside the input, left as fill 0).
    static func nearestIndices(inSize: Int, outSize: Int) -> [Int?] {
        guard outSize > 0 else { return [] }
        let a = Double(inSize) / Double(outSize)
        var xo = 0.0 + a * 0.5
        var out = [Int?](repeating: nil, count: outSize)
        for x in 0..<outSize {
            let xin = xo < 0 ? -1 : Int(xo)
            if xin >= 0 && xin < inSize { out[x] = xin }
            xo += a
        }
        return out
    }
}
