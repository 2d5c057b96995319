/// Naive reference for `Image.resized(width:height:)`: the same Pillow algorithm written plainly
/// (both passes over the full image, subscripted arrays), kept to test the fast path against.
extension Image {
    func resizedReference(width newWidth: Int, height newHeight: Int) -> Image {
        if newWidth == width && newHeight == height { return self }
        let c = channels
        let h = PILResampleCoefficients(filter: .bilinear, inSize: width, outSize: newWidth)
        let v = PILResampleCoefficients(filter: .bilinear, inSize: height, outSize: newHeight)
        func pass(_ value: Int32) -> UInt8 { PILResampleCoefficients.clip8(value) }
        let half: Int32 = 1 << (PILResampleCoefficients.precisionBits - 1)
        // Horizontal: (H,W,C) -> (H,newW,C)
        var tmp = pixels
        var tmpW = width
        if newWidth != width {
            tmp = [UInt8](repeating: 0, count: height * newWidth * c)
            for y in 0..<height {
                for xx in 0..<newWidth {
                    for ch in 0..<c {
                        var ss = half
                        for t in 0..<h.count[xx] {
                            ss += Int32(pixels[(y * width + h.xmin[xx] + t) * c + ch]) * h.weights[xx * h.ksize + t]
                        }
                        tmp[(y * newWidth + xx) * c + ch] = pass(ss)
                    }
                }
            }
            tmpW = newWidth
        }
        // Vertical: (H,newW,C) -> (newH,newW,C)
        var out = tmp
        if newHeight != height {
            out = [UInt8](repeating: 0, count: newHeight * tmpW * c)
            for yy in 0..<newHeight {
                for x in 0..<tmpW {
                    for ch in 0..<c {
                        var ss = half
                        for t in 0..<v.count[yy] {
                            ss += Int32(tmp[((v.xmin[yy] + t) * tmpW + x) * c + ch]) * v.weights[yy * v.ksize + t]
                        }
                        out[(yy * tmpW + x) * c + ch] = pass(ss)
                    }
                }
            }
        }
        return Image(width: newWidth, height: newHeight, channels: c, pixels: out)
    }
}
