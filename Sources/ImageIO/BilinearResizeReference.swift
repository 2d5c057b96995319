/// Naive reference for `Image.resized(width:height:)`: the same Pillow algorithm written plainly
/// (both passes over the full image, subscripted arrays), kept to test the fast path against.
extension Image {
    func resizedReference(width newWidth: Int, height newHeight: Int) -> Image {
        if newWidth == width && newHeight == height { return self }
        let c = channels
        // Horizontal: (H, W, C) -> (H, newW, C), the W axis with H outside and C inside.
        var tmp = pixels
        if newWidth != width {
            let h = PILResampleCoefficients(filter: .bilinear, inSize: width, outSize: newWidth)
            tmp = Self.referencePass(pixels, outer: height, inner: c, h)
        }
        // Vertical: (H, newW, C) -> (newH, newW, C), the H axis with newW * C inside.
        var out = tmp
        if newHeight != height {
            let v = PILResampleCoefficients(filter: .bilinear, inSize: height, outSize: newHeight)
            out = Self.referencePass(tmp, outer: 1, inner: newWidth * c, v)
        }
        return Image(width: newWidth, height: newHeight, channels: c, pixels: out)
    }

    /// One Pillow pass along the middle axis: x (outer, inSize, inner) -> (outer, k.outSize, inner).
    static func referencePass(_ x: [UInt8], outer: Int, inner: Int, _ k: PILResampleCoefficients) -> [UInt8] {
        let inSize = x.count / max(outer * inner, 1), outSize = k.outSize
        let half: Int32 = 1 << (PILResampleCoefficients.precisionBits - 1)
        var out = [UInt8](repeating: 0, count: outer * outSize * inner)
        for o in 0..<outer {
            for xx in 0..<outSize {
                for i in 0..<inner {
                    var ss = half
                    for t in 0..<k.count[xx] {
                        ss += Int32(x[(o * inSize + k.xmin[xx] + t) * inner + i]) * k.weights[xx * k.ksize + t]
                    }
                    out[(o * outSize + xx) * inner + i] = PILResampleCoefficients.clip8(ss)
                }
            }
        }
        return out
    }
}
